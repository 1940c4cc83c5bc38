import { useEffect, useState } from "preact/hooks";
import { typingText } from "../lib/format";
import type { Room } from "../protocol.gen";
import { addFiles, atBottom, joinRoom, leaveRoom, markRead, people, typingNames } from "../state";
import { Avatar } from "./Avatar";
import { Banner } from "./Banner";
import { SaveBanner } from "./SaveBanner";
import { Composer } from "./Composer";
import { openDialog } from "./Dialogs";
import { Door, Hash, Lock, Menu, Plug, SearchIcon, UserPlus } from "./icons";
import { MessageList } from "./MessageList";
import { NotifyMenu } from "./Notifications";
import { drawerOpen } from "./Sidebar";
import { ArchivedTag, isGroup, mayManage, MembersButton, panelRoom, RoomPanel, setArchived, TopicLine } from "./RoomPanel";
import "./RoomView.css";

function Title(props: { room: Room }) {
  const r = props.room;
  if (isGroup(r)) {
    return (
      <div class="room-title">
        <Avatar name={r.name} />
        <div>
          <h1>{r.name}</h1>
          <p class="muted small">
            Group conversation · <MembersButton room={r} />
            <TopicLine room={r} />
          </p>
        </div>
      </div>
    );
  }
  if (r.kind === "dm") {
    const p = people.value.get(r.name.toLowerCase());
    const status = p?.status ?? "offline";
    return (
      <div class="room-title">
        <Avatar name={r.name} status={status} />
        <div>
          <h1>{r.name}</h1>
          <p class="muted small">
            {status === "away" ? `Away${p?.text ? ` · ${p.text}` : ""}` : status === "online" ? "Active now" : "Offline"}
            <TopicLine room={r} />
          </p>
        </div>
      </div>
    );
  }
  return (
    <div class="room-title">
      <span class="title-icon">{r.kind === "private" ? <Lock /> : <Hash />}</span>
      <div>
        <h1>
          {r.name}
          {r.archived && <ArchivedTag />}
        </h1>
        <p class="muted small">
          <span class="room-kind">{r.kind === "private" ? "Private room" : "Public room"}</span>
          {r.members ? <><span class="room-kind"> · </span><MembersButton room={r} /></> : ""}
          <TopicLine room={r} />
        </p>
      </div>
    </div>
  );
}

export function RoomView(props: { room: Room }) {
  const r = props.room;
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState === "visible" && atBottom.value) markRead(r.id);
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [r.id]);

  // Files dragged over the room can be dropped anywhere on it.
  const [dragging, setDragging] = useState(false);
  const hasFiles = (e: DragEvent) => !!e.dataTransfer?.types.includes("Files");
  const where = r.kind === "dm" ? r.name : `#${r.name}`;

  return (
    <section
      class="room"
      aria-label={where}
      onDragOver={(e) => {
        if (!r.member || !hasFiles(e)) return;
        e.preventDefault();
        if (!dragging) setDragging(true);
      }}
      onDragLeave={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
      }}
      onDrop={(e) => {
        if (!r.member || !hasFiles(e)) return;
        e.preventDefault();
        setDragging(false);
        const files = e.dataTransfer?.files;
        if (files?.length) addFiles(r.id, [...files]);
      }}
    >
      {dragging && (
        <div class="drop-zone" aria-hidden="true">
          Drop files to share them in {where}
        </div>
      )}
      <header class="room-head">
        <button
          class="icon-btn menu-btn"
          aria-label="Show rooms and people"
          aria-controls="sidebar"
          aria-expanded={drawerOpen.value}
          onClick={() => (drawerOpen.value = !drawerOpen.value)}
        >
          <Menu />
        </button>
        <Title room={r} />
        <div class="room-actions">
          <button class="icon-btn" aria-label="Search messages" title="Search (Ctrl+K)" aria-keyshortcuts="Control+K" onClick={() => openDialog("search")}>
            <SearchIcon />
          </button>
          {r.member && <NotifyMenu room={r} />}
          {r.member && (
            <button class="icon-btn" aria-label={`Webhooks of ${where}`} title="Webhooks" onClick={() => openDialog("hooks")}>
              <Plug />
            </button>
          )}
          {r.kind !== "dm" && r.member && (
            <button class="btn ghost" aria-label="Invite people" onClick={() => openDialog("invite")}>
              <UserPlus />
              <span class="hide-narrow">Invite</span>
            </button>
          )}
          {r.kind !== "dm" && r.member && r.name !== "general" && (
            <button class="icon-btn" aria-label={`Leave #${r.name}`} title="Leave room" onClick={() => void leaveRoom(r.id)}>
              <Door />
            </button>
          )}
        </div>
      </header>
      <Banner />
      <SaveBanner />
      <MessageList room={r} />
      <div class="typing" aria-live="polite">
        {typingNames.value.length > 0 && (
          <>
            <span class="typing-dots" aria-hidden="true">
              <i />
              <i />
              <i />
            </span>
            {typingText(typingNames.value)}
          </>
        )}
      </div>
      {panelRoom.value === r.id && <RoomPanel room={r} />}
      {r.member && r.archived ? (
        <div class="archived-bar" role="status">
          <p>This room is archived: it is read-only.</p>
          {mayManage(r) && (
            <button class="btn" onClick={() => void setArchived(r, false)}>
              Unarchive
            </button>
          )}
        </div>
      ) : r.member ? (
        <Composer room={r} />
      ) : (
        <div class="join-bar">
          <p>
            You are viewing <strong>#{r.name}</strong>. Join to post and get its messages live.
          </p>
          <button class="btn primary" onClick={() => void joinRoom(r.id)}>
            Join #{r.name}
          </button>
        </div>
      )}
    </section>
  );
}
