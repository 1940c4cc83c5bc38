// File uploads: POST /api/uploads with upload progress, and the list of
// files waiting in a composer. Plain functions with no UI imports; the
// request is injected so the tests drive it by hand.

import type { Attachment, ErrorBody } from "../protocol.gen";
import { refusal, retryAfter } from "./access";

export interface Upload {
  /** Local key, unique in the list. */
  key: string;
  name: string;
  size: number;
  /** Bytes sent so far. */
  loaded: number;
  status: "uploading" | "done" | "failed";
  /** Set when done. */
  attachment?: Attachment;
  /** Set when failed: what to tell the user. */
  error?: string;
  /** For images: a blob: URL of the local file, for a thumbnail while it waits. */
  preview?: string;
}

// --- the list (immutable updates) ---

export function added(list: readonly Upload[], key: string, file: { name: string; size: number }, preview?: string): Upload[] {
  const u: Upload = { key, name: file.name, size: file.size, loaded: 0, status: "uploading" };
  if (preview) u.preview = preview;
  return [...list, u];
}

/** Images the browser shows as thumbnails (the server shows these inline too). */
const previewable = /^image\/(png|jpeg|gif|webp|avif|bmp)$/;

/** A blob: URL for an image file's thumbnail, or undefined. */
export function previewOf(file: { type: string }, make: (f: never) => string = (f) => URL.createObjectURL(f)): string | undefined {
  if (!previewable.test(file.type) || typeof URL === "undefined" || !("createObjectURL" in URL)) return undefined;
  try {
    return make(file as never);
  } catch {
    return undefined;
  }
}

/** Lets go of the thumbnails of uploads leaving the composer. */
export function releasePreviews(list: readonly Upload[] | undefined): void {
  for (const u of list ?? []) if (u.preview) URL.revokeObjectURL(u.preview);
}

function patch(list: readonly Upload[], key: string, p: Partial<Upload>): Upload[] {
  return list.map((u) => (u.key === key ? { ...u, ...p } : u));
}

export function progressed(list: readonly Upload[], key: string, loaded: number): Upload[] {
  return patch(list, key, { loaded });
}

export function finished(list: readonly Upload[], key: string, attachment: Attachment): Upload[] {
  return patch(list, key, { status: "done", loaded: attachment.size, attachment });
}

export function failed(list: readonly Upload[], key: string, error: string): Upload[] {
  return patch(list, key, { status: "failed", error });
}

export function removed(list: readonly Upload[], key: string): Upload[] {
  return list.filter((u) => u.key !== key);
}

/** Whole percent done, 0–100. */
export function percent(u: Upload): number {
  if (u.status === "done") return 100;
  return u.size > 0 ? Math.min(100, Math.floor((u.loaded / u.size) * 100)) : 0;
}

/**
 * What a send takes from the list: the uploaded files, and whether it must
 * wait (some are still uploading). Failed ones are left out; they stay in
 * the list, with their error, until removed.
 */
export function sendable(list: readonly Upload[]): { attachments: Attachment[]; waiting: boolean } {
  return {
    attachments: list.flatMap((u) => (u.status === "done" && u.attachment ? [u.attachment] : [])),
    waiting: list.some((u) => u.status === "uploading"),
  };
}

// --- the request ---

/** The part of XMLHttpRequest an upload uses. */
export interface RequestLike {
  open(method: string, url: string): void;
  send(body: FormData): void;
  abort(): void;
  status: number;
  responseText: string;
  withCredentials: boolean;
  /** Optional so test doubles may leave it out. */
  getResponseHeader?(name: string): string | null;
  upload: { onprogress: ((ev: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

/** An upload was refused or failed; message is for the user. */
export class UploadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "UploadError";
  }
}

/** The user-facing reason an upload of name failed with status and body. */
export function uploadFailure(name: string, status: number, body: string, retryAfterMs?: number): string {
  let server = "";
  let code = "";
  try {
    ({ message: server, code } = (JSON.parse(body) as ErrorBody).error);
  } catch {
    /* not a JSON error */
  }
  // Quota, disk and rate refusals say what to do, not just "no".
  if (code === "quota_exceeded" || code === "insufficient_storage" || code === "rate_limited" || status === 507 || status === 429) {
    return `“${name}” was not uploaded. ${refusal(code, status, server, "upload", retryAfterMs)}`;
  }
  if (status === 413) return `“${name}” is too large to upload${server ? ` (${server})` : ""}.`;
  if (status === 0) return `“${name}” could not be uploaded: the server cannot be reached.`;
  return `“${name}” could not be uploaded: ${server || `the server answered ${status}`}.`;
}

/**
 * Uploads a file as multipart field "file", reporting bytes sent. done
 * resolves with the attachment, or rejects with an UploadError; abort()
 * rejects it with status 0.
 */
export function upload(
  file: Blob & { name: string },
  onProgress: (loaded: number) => void,
  create: () => RequestLike = () => new XMLHttpRequest() as unknown as RequestLike,
): { done: Promise<Attachment>; abort: () => void } {
  const xhr = create();
  const done = new Promise<Attachment>((resolve, reject) => {
    xhr.open("POST", "/api/uploads");
    xhr.withCredentials = true;
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) onProgress(Math.min(ev.loaded, file.size));
    };
    xhr.onload = () => {
      if (xhr.status === 201 || xhr.status === 200) {
        try {
          const a = (JSON.parse(xhr.responseText) as { attachment: Attachment }).attachment;
          if (a && typeof a.id === "string") return resolve(a);
        } catch {
          /* fall through */
        }
        return reject(new UploadError(xhr.status, `“${file.name}” could not be uploaded: the server’s answer was not understood.`));
      }
      reject(new UploadError(xhr.status, uploadFailure(file.name, xhr.status, xhr.responseText, retryAfter(xhr.getResponseHeader?.("Retry-After") ?? null))));
    };
    xhr.onerror = () => reject(new UploadError(0, uploadFailure(file.name, 0, "")));
    xhr.onabort = () => reject(new UploadError(0, `Upload of “${file.name}” cancelled.`));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
