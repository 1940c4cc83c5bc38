// The small pieces every settings section and dialog form shows the same
// way: its error (announced), its status line, and a dialog's Close.
import { closeDialog } from "./Dialogs";

/** What went wrong, announced to screen readers as it changes. */
export function FormError(props: { error: string | null; id?: string }) {
  return (
    <div id={props.id} class="form-error" role="alert">
      {props.error}
    </div>
  );
}

/** What just happened ("Saved."), announced politely. */
export function Status(props: { text: string; class?: string }) {
  return (
    <p class={props.class ?? "muted small"} role="status">
      {props.text}
    </p>
  );
}

/** The actions row of a dialog that only closes. */
export function CloseActions() {
  return (
    <div class="modal-actions">
      <button type="button" class="btn" onClick={closeDialog}>
        Close
      </button>
    </div>
  );
}
