import { useEffect, useState } from "preact/hooks";
import { joinCode, signInCopy } from "../lib/access";
import { api, ApiError } from "../lib/api";
import { MaxNameLen, MinPasswordLen, type Instance } from "../protocol.gen";
import { signInNote, startSession } from "../state";
import { firstRun } from "./Access";
import { openDialog } from "./Dialogs";
import "./SignIn.css";

const namePattern = /^[A-Za-z0-9_.-]{1,32}$/;

/**
 * One form to sign in or create an account. Opened at /join/<code> (an
 * invite link) it creates accounts with that code.
 */
export function SignIn() {
  const [code] = useState(() => joinCode(location.pathname));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  /** Which field the error is about, for aria-invalid. */
  const [bad, setBad] = useState<"username" | "password" | "both" | null>(null);
  const [busy, setBusy] = useState(false);
  const [instance, setInstance] = useState<Instance | null>(null);
  useEffect(() => {
    // Unknown (an older server, no network): the page offers everything.
    api.instance().then(setInstance, () => undefined);
  }, []);
  const copy = signInCopy(instance, code);

  async function submit(e: SubmitEvent) {
    e.preventDefault();
    const register = (e.submitter as HTMLButtonElement | null)?.value === "register";
    const name = username.trim();
    if (!namePattern.test(name)) {
      setError(`Usernames are 1–${MaxNameLen} letters, digits, “_”, “.” or “-”.`);
      setBad("username");
      return;
    }
    if (password.length < MinPasswordLen) {
      setError(`Passwords have at least ${MinPasswordLen} characters.`);
      setBad("password");
      return;
    }
    setBusy(true);
    setError(null);
    setBad(null);
    try {
      const { user } = register ? await api.register(name, password, code ?? undefined) : await api.signIn(name, password);
      // The invite link has done its work: the address bar forgets the code.
      if (code) history.replaceState(null, "", "/");
      startSession(user);
      // Only the first account of a server is made an admin by signing up:
      // it is shown the invite link at once.
      if (register && user.role === "admin") {
        firstRun.value = true;
        openDialog("people");
      }
    } catch (err) {
      setError(explain(err, register, name));
      setBad(register && err instanceof ApiError && err.status === 409 ? "username" : err instanceof ApiError && err.status === 401 ? "both" : null);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin">
      <div class="signin-card">
        <div class="brand brand-lg">
          <span class="brand-mark" aria-hidden="true" />
          {instance?.name || "minichat"}
        </div>
        <h1>{copy.heading}</h1>
        <p class="muted">{copy.lead}</p>
        {signInNote.value && (
          <p class="note" role="status">
            {signInNote.value}
          </p>
        )}
        <form onSubmit={(e) => void submit(e as unknown as SubmitEvent)} noValidate>
          <label class="field">
            <span>Username</span>
            <input
              name="username"
              autocomplete="username"
              autocapitalize="none"
              spellcheck={false}
              maxLength={MaxNameLen}
              required
              value={username}
              onInput={(e) => setUsername(e.currentTarget.value)}
              aria-invalid={bad === "username" || bad === "both" ? true : undefined}
              aria-describedby="signin-error"
            />
          </label>
          <label class="field">
            <span>Password</span>
            <input
              name="password"
              type="password"
              autocomplete="current-password"
              required
              minLength={MinPasswordLen}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
              aria-invalid={bad === "password" || bad === "both" ? true : undefined}
              aria-describedby="signin-error"
            />
          </label>
          <div id="signin-error" class="form-error" role="alert">
            {error}
          </div>
          <div class="signin-actions">
            {/* Keyed: when the server's answer reorders them, a button never turns into the other. */}
            {copy.registerFirst ? (
              <>
                <button key="register" class="btn primary" type="submit" value="register" disabled={busy}>
                  Create account
                </button>
                {copy.canSignIn && (
                  <button key="signin" class="btn" type="submit" value="signin" disabled={busy}>
                    Sign in
                  </button>
                )}
              </>
            ) : (
              <>
                <button key="signin" class="btn primary" type="submit" value="signin" disabled={busy}>
                  Sign in
                </button>
                {copy.canRegister && (
                  <button key="register" class="btn" type="submit" value="register" disabled={busy}>
                    Create account
                  </button>
                )}
              </>
            )}
          </div>
        </form>
        {copy.hint && <p class="muted signin-hint">{copy.hint}</p>}
      </div>
    </main>
  );
}

function explain(err: unknown, register: boolean, name: string): string {
  if (!(err instanceof ApiError)) return "Something went wrong. Try again.";
  if (register && err.status === 409) return `The name “${name}” is taken. Choose another, or sign in.`;
  // A refused invite code: the link is old (reset since) or mistyped.
  if (register && err.code === "invite_required" && joinCode(location.pathname)) {
    return "This invite link no longer works. Ask an admin for a new one.";
  }
  // Everything else (invite only, closed, too many tries) is said by access.ts.
  return err.message;
}
