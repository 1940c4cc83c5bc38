// PeoplePicker: a keyboard-first combobox that finds people through
// GET /api/users as one types, and keeps the people picked as chips.
//
//   <PeoplePicker label="People" value={picked} onChange={setPicked} multiple max={7} exclude={[me.id]} />
//
// Keys, in the input: typing searches; ArrowDown / ArrowUp move through the
// suggestions (the first is active as soon as they arrive); Enter picks the
// active one — with no suggestion open, Enter is the form's own (submit);
// Escape closes the suggestions (a second Escape reaches the dialog);
// Backspace in an empty input removes the last chip. Chips have a remove
// button each. The list follows the WAI-ARIA combobox pattern (listbox
// popup, aria-activedescendant), so screen readers announce the options.

import { useEffect, useId, useRef, useState } from "preact/hooks";
import { peopleApi, shownName } from "../lib/people";
import type { User } from "../protocol.gen";
import { learnUsers } from "../profiles";
import { UserAvatar } from "./Profile";
import "./profiles.css";

export interface PeoplePickerProps {
  /** The visible label of the input. */
  label: string;
  /** The people picked, in the order they were picked. */
  value: readonly User[];
  /** Called with the new list after a pick or a removal. */
  onChange: (users: User[]) => void;
  /** Several people (chips); default false: one, a new pick replaces it. */
  multiple?: boolean;
  /** With multiple: the most people that may be picked (default: no bound). */
  max?: number;
  /** Ids of users never offered (yourself, the room's members...). */
  exclude?: readonly string[];
  autoFocus?: boolean;
  placeholder?: string;
  /** How many suggestions to show at once (default 8). */
  limit?: number;
}

/** How long typing pauses before a search is sent, in ms. */
const searchDelay = 120;

export function PeoplePicker(props: PeoplePickerProps) {
  const { value, onChange, multiple = false, max, exclude = [], limit = 8 } = props;
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<User[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const [note, setNote] = useState("");
  /** The query the results answer. */
  const [answered, setAnswered] = useState("");
  const seq = useRef(0);
  /** Enter was pressed before the suggestions arrived: pick the first then. */
  const enterPending = useRef(false);
  const input = useRef<HTMLInputElement>(null);
  const listId = useId();
  const hintId = useId();
  const labelId = useId();
  const full = multiple && max !== undefined && value.length >= max;

  const picked = new Set(value.map((u) => u.id));
  const hidden = new Set(exclude);
  const options = results.filter((u) => !picked.has(u.id) && !hidden.has(u.id));

  useEffect(() => {
    const q = query.trim();
    if (!q || full) {
      seq.current++;
      setResults([]);
      setNote("");
      return;
    }
    const n = ++seq.current;
    const t = setTimeout(() => {
      peopleApi
        .search(q, null, limit + exclude.length + value.length)
        .then((page) => {
          if (n !== seq.current) return; // a later search is under way
          learnUsers(page.users);
          setNote("");
          if (enterPending.current) {
            enterPending.current = false;
            const first = page.users.find((u) => !picked.has(u.id) && !hidden.has(u.id));
            if (first) {
              pick(first);
              return;
            }
          }
          setResults(page.users);
          setAnswered(q);
          setActive(0);
          setOpen(true);
        })
        .catch((e: unknown) => {
          if (n !== seq.current) return;
          setResults([]);
          setNote(e instanceof Error ? e.message : "Search failed.");
        });
    }, searchDelay);
    return () => clearTimeout(t);
    // exclude and value change the request's size only; the query drives it.
  }, [query, full]);

  const pick = (u: User) => {
    onChange(multiple ? [...value, u] : [u]);
    setQuery("");
    setResults([]);
    setOpen(false);
    input.current?.focus();
  };
  const remove = (u: User) => {
    onChange(value.filter((x) => x.id !== u.id));
    input.current?.focus();
  };

  const shown = open && options.length > 0 ? options.slice(0, limit) : [];
  const cur = Math.min(active, Math.max(shown.length - 1, 0));

  const onKeyDown = (e: KeyboardEvent) => {
    switch (e.key) {
      case "ArrowDown":
        e.preventDefault();
        if (!open) setOpen(true);
        else if (shown.length) setActive((cur + 1) % shown.length);
        break;
      case "ArrowUp":
        e.preventDefault();
        if (shown.length) setActive((cur - 1 + shown.length) % shown.length);
        break;
      case "Enter":
        if (shown.length) {
          e.preventDefault();
          pick(shown[cur]!);
        } else if (query.trim() && answered !== query.trim()) {
          // Typed faster than the search answered: Enter means the first
          // match, not "submit what is picked so far".
          e.preventDefault();
          enterPending.current = true;
        } else if (query.trim()) {
          e.preventDefault(); // nobody matches: nothing to pick or submit
        }
        break;
      case "Escape":
        if (shown.length) {
          e.preventDefault();
          e.stopPropagation();
          setOpen(false);
        }
        break;
      case "Backspace":
        if (query === "" && value.length > 0) {
          e.preventDefault();
          remove(value[value.length - 1]!);
        }
        break;
    }
  };

  const optionId = (u: User) => `${listId}-${u.id}`;
  const settled = query.trim() !== "" && answered === query.trim() && options.length === 0;
  const hint = full
    ? `You picked ${max}, the most there may be.`
    : note || (settled ? (results.length > 0 ? "Everyone who matches is already picked." : "No one by that name.") : "");
  return (
    <div class="people-picker">
      {/* Not a <label> around the box: the chips would join the input's name. */}
      <div class="field">
        <span id={labelId} onClick={() => input.current?.focus()}>
          {props.label}
        </span>
        <div class="pp-box" onClick={() => input.current?.focus()}>
          {value.map((u) => (
            <span class="pp-chip" key={u.id}>
              <UserAvatar user={u} size="xs" />
              <span class="pp-chip-name" title={`@${u.name}`}>
                {shownName(u)}
              </span>
              <button
                type="button"
                class="pp-chip-remove"
                aria-label={`Remove ${shownName(u)}`}
                onClick={(e) => {
                  e.stopPropagation();
                  remove(u);
                }}
              >
                ×
              </button>
            </span>
          ))}
          <input
            ref={input}
            type="text"
            role="combobox"
            aria-labelledby={labelId}
            aria-autocomplete="list"
            aria-expanded={shown.length > 0}
            aria-controls={listId}
            aria-activedescendant={shown.length ? optionId(shown[cur]!) : undefined}
            aria-describedby={hintId}
            autoComplete="off"
            autocapitalize="none"
            spellcheck={false}
            autoFocus={props.autoFocus}
            disabled={full}
            value={query}
            placeholder={value.length && !multiple ? "" : props.placeholder ?? "Type a name"}
            onInput={(e) => {
              enterPending.current = false;
              setQuery(e.currentTarget.value);
              setOpen(true);
            }}
            onKeyDown={onKeyDown}
            onBlur={() => setOpen(false)}
            onFocus={() => setOpen(true)}
          />
        </div>
      </div>
      <ul id={listId} role="listbox" class="pp-list" aria-label={`${props.label}: suggestions`} hidden={shown.length === 0}>
        {shown.map((u, i) => (
          <li
            key={u.id}
            id={optionId(u)}
            role="option"
            aria-selected={i === cur}
            class={`pp-option${i === cur ? " active" : ""}`}
            // mousedown, not click: the input keeps focus (and its list).
            onMouseDown={(e) => {
              e.preventDefault();
              pick(u);
            }}
            onMouseMove={() => setActive(i)}
          >
            <UserAvatar user={u} size="sm" />
            <span class="pp-option-name">{shownName(u)}</span>
            {u.display_name && <span class="pp-option-user">@{u.name}</span>}
          </li>
        ))}
      </ul>
      <p id={hintId} class="pp-hint muted" aria-live="polite">
        {hint}
      </p>
    </div>
  );
}
