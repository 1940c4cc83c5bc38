// The busy-and-error state every form and panel of the client keeps around
// its requests, in one place.
import { useState } from "preact/hooks";
import { ApiError } from "../lib/api";

/** What a failed request says to the reader: the server's message, or a general one. */
export function say(e: unknown, otherwise = "Something went wrong. Try again."): string {
  return e instanceof ApiError ? e.message : otherwise;
}

/**
 * A form's request state: run(what) marks it busy, clears the error, waits
 * for what, and shows what went wrong if it fails; it resolves to whether
 * what succeeded.
 */
export function useAction() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (what: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await what();
      return true;
    } catch (e) {
      setError(say(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { error, setError, busy, run };
}
