import { useState } from "preact/hooks";
import { api, ApiError } from "../lib/api";
import { MaxNameLen, MinPasswordLen } from "../protocol.gen";
import { signInNote, startSession } from "../state";

const namePattern = /^[A-Za-z0-9_.-]{1,32}$/;

/** One form to sign in or create an account. */
export function SignIn() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  /** Which field the error is about, for aria-invalid. */
  const [bad, setBad] = useState<"username" | "password" | "both" | null>(null);
  const [busy, setBusy] = useState(false);

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
      const { user } = register ? await api.register(name, password) : await api.signIn(name, password);
      startSession(user);
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
          minichat
        </div>
        <h1>Welcome</h1>
        <p class="muted">Sign in, or create an account to join your team’s rooms.</p>
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
            <button class="btn primary" type="submit" value="signin" disabled={busy}>
              Sign in
            </button>
            <button class="btn" type="submit" value="register" disabled={busy}>
              Create account
            </button>
          </div>
        </form>
      </div>
    </main>
  );
}

function explain(err: unknown, register: boolean, name: string): string {
  if (!(err instanceof ApiError)) return "Something went wrong. Try again.";
  if (register && err.status === 409) return `The name “${name}” is taken. Choose another, or sign in.`;
  if (register && err.status === 403) return "Registration is closed on this server. Ask an admin for an account.";
  if (!register && err.status === 401) return "Wrong username or password.";
  if (err.status === 429) return "Too many attempts. Wait a moment and try again.";
  return err.message;
}
