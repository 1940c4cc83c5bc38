import { describe, expect, it } from "vitest";
import type { Attachment } from "../protocol.gen";
import { added, failed, finished, percent, progressed, removed, sendable, upload, UploadError, type RequestLike } from "./uploads";

const att = (id: string, size = 100): Attachment => ({ id, name: `${id}.png`, size, type: "image/png", url: `/files/${id}` });

describe("upload list", () => {
  it("tracks progress, success and failure, and what a send may take", () => {
    let l = added([], "k1", { name: "a.png", size: 200 });
    l = added(l, "k2", { name: "b.pdf", size: 0 });
    l = added(l, "k3", { name: "c.zip", size: 50 });
    expect(sendable(l)).toEqual({ attachments: [], waiting: true });
    l = progressed(l, "k1", 50);
    expect(percent(l[0]!)).toBe(25);
    expect(percent(l[1]!)).toBe(0); // empty file: no division by zero
    l = finished(l, "k1", att("f_1", 200));
    l = failed(l, "k3", "too large");
    expect(percent(l[0]!)).toBe(100);
    // k2 still uploading: the send waits.
    expect(sendable(l)).toEqual({ attachments: [att("f_1", 200)], waiting: true });
    l = finished(l, "k2", att("f_2", 0));
    // Failed files are left out and do not block.
    expect(sendable(l)).toEqual({ attachments: [att("f_1", 200), att("f_2", 0)], waiting: false });
    expect(l.find((u) => u.key === "k3")).toMatchObject({ status: "failed", error: "too large" });
    l = removed(l, "k3");
    expect(l.map((u) => u.key)).toEqual(["k1", "k2"]);
  });
});

class FakeXHR implements RequestLike {
  status = 0;
  responseText = "";
  withCredentials = false;
  upload: RequestLike["upload"] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  opened: [string, string] | null = null;
  body: FormData | null = null;
  open(method: string, url: string) {
    this.opened = [method, url];
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.onabort?.();
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = typeof body === "string" ? body : JSON.stringify(body);
    this.onload?.();
  }
}

function start(name = "photo.png", size = 1000) {
  const xhr = new FakeXHR();
  const seen: number[] = [];
  const file = Object.assign(new Blob([new Uint8Array(size)], { type: "image/png" }), { name });
  const u = upload(file, (n) => seen.push(n), () => xhr);
  return { xhr, seen, u, file };
}

describe("upload", () => {
  it("posts the file as multipart field file and reports progress", async () => {
    const { xhr, seen, u } = start();
    expect(xhr.opened).toEqual(["POST", "/api/uploads"]);
    expect(xhr.withCredentials).toBe(true);
    const sent = xhr.body!.get("file") as File;
    expect(sent.name).toBe("photo.png");
    expect(sent.size).toBe(1000);
    xhr.upload.onprogress!({ loaded: 400, total: 1200, lengthComputable: true });
    xhr.upload.onprogress!({ loaded: 5000, total: 1200, lengthComputable: true });
    xhr.upload.onprogress!({ loaded: 7, total: 0, lengthComputable: false });
    expect(seen).toEqual([400, 1000]);
    xhr.answer(201, { attachment: att("f_9", 1000) });
    await expect(u.done).resolves.toEqual(att("f_9", 1000));
  });

  it("explains a file over the size limit", async () => {
    const { xhr, u } = start("huge.bin");
    xhr.answer(413, { error: { code: "too_large", message: "files are limited to 10 MiB" } });
    const err = await u.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect((err as UploadError).status).toBe(413);
    expect((err as UploadError).message).toBe("“huge.bin” is too large to upload (files are limited to 10 MiB).");
  });

  it("explains a 413 without a JSON body, other refusals, network errors and cancels", async () => {
    let s = start("a.bin");
    s.xhr.answer(413, "<html>Request Entity Too Large</html>");
    await expect(s.u.done).rejects.toThrow("“a.bin” is too large to upload.");
    s = start("b.bin");
    s.xhr.answer(403, { error: { code: "forbidden", message: "not allowed" } });
    await expect(s.u.done).rejects.toThrow("“b.bin” could not be uploaded: not allowed.");
    s = start("c.bin");
    s.xhr.onerror!();
    await expect(s.u.done).rejects.toThrow("the server cannot be reached");
    s = start("d.bin");
    s.u.abort();
    await expect(s.u.done).rejects.toThrow("cancelled");
    s = start("e.bin");
    s.xhr.answer(201, "not json");
    await expect(s.u.done).rejects.toThrow("not understood");
  });

  it("says what to do when the quota, the disk or the rate refuses", async () => {
    let s = start("q.bin");
    s.xhr.answer(413, { error: { code: "quota_exceeded", message: "upload quota exceeded" } });
    await expect(s.u.done).rejects.toThrow(/^“q\.bin” was not uploaded\. You have used all the file storage/);
    s = start("d.bin");
    s.xhr.answer(507, { error: { code: "insufficient_storage", message: "low disk" } });
    await expect(s.u.done).rejects.toThrow("“d.bin” was not uploaded. The server is almost out of disk space");
    s = start("r.bin");
    s.xhr.answer(429, { error: { code: "rate_limited", message: "slow down" } });
    await expect(s.u.done).rejects.toThrow("“r.bin” was not uploaded. You have uploaded many files in a short time. Wait a moment and try again.");
  });
});
