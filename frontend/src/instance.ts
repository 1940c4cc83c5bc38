// What the page knows of the server before and after sign-in
// (GET /api/instance): its name, for the page title and the sign-in
// screen. An administrator changes it in the admin screen (ui/Admin.tsx).

import { signal } from "@preact/signals";
import { api } from "./lib/api";
import { DefaultInstanceName } from "./protocol.gen";

/** The instance's name; the default until the server has said. */
export const instanceName = signal<string>(DefaultInstanceName);

/** Reads the name once; a failure keeps the default (the page still works). */
export async function loadInstance(): Promise<void> {
  try {
    const i = await api.instance();
    if (i.name) instanceName.value = i.name;
  } catch {
    /* keep the default */
  }
}
