// The admin screen: people and the server's settings, in the browser.

import { expect, password, test } from "./fixtures";

test("an admin disables a person: their open tab is signed out at once, and they cannot sign in", async ({ signUp }) => {
  const admin = await signUp("root");
  const bob = await signUp("bob");

  await admin.getByRole("button", { name: "Administration" }).click();
  const screen = admin.getByRole("dialog", { name: "Administration" });
  const row = screen.getByRole("listitem", { name: "bob" });
  await row.getByRole("button", { name: "Disable" }).click();
  await expect(screen.getByText("bob is disabled and signed out everywhere.")).toBeVisible();
  await expect(row.getByText("disabled")).toBeVisible();

  // bob's tab: the socket is closed (4401) and the sign-in form is back.
  await expect(bob.getByRole("button", { name: "Sign in" })).toBeVisible();
  await expect(bob.getByText("Your session has ended. Sign in again to continue.")).toBeVisible();

  // Disabled, he cannot sign in again; enabled, he can.
  await bob.getByLabel("Username").fill("bob");
  await bob.getByLabel("Password").fill(password);
  await bob.getByRole("button", { name: "Sign in" }).click();
  await expect(bob.getByRole("alert")).toContainText("disabled");
  await row.getByRole("button", { name: "Enable" }).click();
  await expect(screen.getByText("bob can sign in again.")).toBeVisible();
  await bob.getByRole("button", { name: "Sign in" }).click();
  await expect(bob.getByRole("textbox", { name: "Message #general" })).toBeVisible();

  // The last admin cannot make themselves a member: the server says why.
  await screen.getByRole("listitem", { name: "root" }).getByRole("button", { name: "Make member" }).click();
  await expect(screen.getByRole("alert").filter({ hasText: "last administrator" })).toBeVisible();

  // A member has no admin screen.
  await expect(bob.getByRole("button", { name: "Administration" })).toHaveCount(0);
});

test("an admin renames the server: the title, the sidebar and the sign-in screen show it", async ({ signUp, visit }) => {
  const admin = await signUp("root");
  await admin.getByRole("button", { name: "Administration" }).click();
  const screen = admin.getByRole("dialog", { name: "Administration" });
  const name = screen.getByLabel("Server name");
  await expect(name).toHaveValue("minichat");
  await name.fill("Acme chat");
  await screen.getByRole("button", { name: "Save name" }).click();
  await expect(screen.getByText("The server's name is saved.")).toBeVisible();
  await expect(admin).toHaveTitle(/Acme chat$/);
  await screen.getByRole("button", { name: "Close" }).click();
  await expect(admin.getByRole("navigation").getByText("Acme chat")).toBeVisible();

  // Someone who is not signed in sees it before signing in.
  const stranger = await visit("/");
  await expect(stranger.locator(".signin .brand")).toHaveText("Acme chat");
  await expect(stranger).toHaveTitle("Acme chat");
});

test("an admin closes sign-up: the sign-in screen stops offering it, after a reload too", async ({ signUp, visit }) => {
  const admin = await signUp("root");
  await admin.getByRole("button", { name: "Administration" }).click();
  const screen = admin.getByRole("dialog", { name: "Administration" });
  // The test server starts with --registration open: the flag is the default.
  await expect(screen.getByRole("radio", { name: /Open/ })).toBeChecked();
  await screen.getByRole("radio", { name: /Closed/ }).check();
  await expect(screen.getByText("Sign-up is now: closed.")).toBeVisible();
  await admin.reload();
  await admin.getByRole("button", { name: "Administration" }).click();
  await expect(admin.getByRole("dialog", { name: "Administration" }).getByRole("radio", { name: /Closed/ })).toBeChecked();

  const stranger = await visit("/");
  await expect(stranger.getByRole("button", { name: "Sign in" })).toBeVisible();
  await expect(stranger.getByRole("button", { name: "Create account" })).toHaveCount(0);
});

test("a normal page load logs no console error, signed out or signed in", async ({ signUp, visit }) => {
  const errors: string[] = [];
  const alice = await signUp("alice");
  alice.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const stranger = await visit("/");
  stranger.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await stranger.reload();
  await expect(stranger.getByRole("button", { name: "Sign in" })).toBeVisible();
  await stranger.waitForLoadState("networkidle");
  await alice.reload();
  await expect(alice.getByRole("textbox", { name: "Message #general" })).toBeVisible();
  await alice.waitForLoadState("networkidle");
  expect(errors).toEqual([]);
});
