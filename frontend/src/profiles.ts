// The latest profile of each user the client has heard of, by id: from
// welcome, `user` frames and people searches. Messages carry their sender's
// profile as it was when they were read; components show the one here
// when there is one, so a change shows everywhere at once.

import { signal } from "@preact/signals";
import type { User } from "./protocol.gen";

export const profiles = signal<ReadonlyMap<string, User>>(new Map());

/** The user whose profile card is open, if any. */
export const profileCard = signal<User | null>(null);

/** The latest known state of u (u itself when nothing newer is known). */
export function latest(u: User): User {
  return profiles.value.get(u.id) ?? u;
}

/**
 * Records the profiles of users as they are now. Only sources that are at
 * least as fresh as every `user` frame before them call it (a `user`
 * frame, welcome, a search answer); a message's sender is not one.
 */
export function learnUsers(users: readonly User[]): void {
  let next: Map<string, User> | null = null;
  for (const u of users) {
    const have = (next ?? profiles.value).get(u.id);
    if (have && have.name === u.name && have.display_name === u.display_name && have.avatar === u.avatar && have.status_text === u.status_text && have.role === u.role) continue;
    next ??= new Map(profiles.value);
    next.set(u.id, u);
  }
  if (next) profiles.value = next;
}

/** Opens the profile card of a user. */
export function openProfile(u: User): void {
  profileCard.value = latest(u);
}
