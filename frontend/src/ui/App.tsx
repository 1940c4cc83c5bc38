import { useEffect } from "preact/hooks";
import { instanceName, loadInstance } from "../instance";
import { activeRoom, me, ready, titleUnread, toast } from "../state";
import { Banner } from "./Banner";
import { Dialogs, openDialog } from "./Dialogs";
import { RoomView } from "./RoomView";
import { drawerOpen, Sidebar } from "./Sidebar";
import { SignIn } from "./SignIn";
import "./App.css";

export function App() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && drawerOpen.value) drawerOpen.value = false;
      // Ctrl+K (⌘K) searches, as in other chats.
      if (e.key.toLowerCase() === "k" && (e.ctrlKey || e.metaKey) && !e.altKey && me.value) {
        e.preventDefault();
        openDialog("search");
      }
    };
    window.addEventListener("keydown", onKey);
    void loadInstance();
    // The drawer exists only on narrow screens; widening the window closes it.
    const wide = window.matchMedia("(min-width: 761px)");
    const onWide = () => {
      if (wide.matches) drawerOpen.value = false;
    };
    wide.addEventListener("change", onWide);
    return () => {
      window.removeEventListener("keydown", onKey);
      wide.removeEventListener("change", onWide);
    };
  }, []);

  // The tab's title tells unread messages and the open room.
  const unread = titleUnread.value;
  const current = activeRoom.value;
  const name = instanceName.value;
  useEffect(() => {
    const where = current ? (current.kind === "dm" ? current.name : `#${current.name}`) : "";
    document.title = `${unread > 0 ? `(${unread}) ` : ""}${where ? `${where} · ` : ""}${name}`;
  }, [unread, current?.id, current?.name, name]);

  if (!ready.value) {
    return (
      <div class="splash" aria-busy="true">
        <span class="brand-mark" aria-hidden="true" />
        <span class="sr-only">Loading minichat</span>
      </div>
    );
  }
  if (!me.value) return <SignIn />;
  const room = activeRoom.value;
  return (
    <div class="app">
      <Sidebar />
      {drawerOpen.value && <div class="scrim" onClick={() => (drawerOpen.value = false)} aria-hidden="true" />}
      {/* While the drawer is open the page behind it is inert: focus stays in the drawer. */}
      <main class="main" inert={drawerOpen.value}>
        {room ? (
          <RoomView key={room.id} room={room} />
        ) : (
          <div class="empty-main">
            {/* Offline or out of reach before any room is known (a reload): say so here too. */}
            <Banner />
            <p class="muted">Choose a room on the left, or create one.</p>
          </div>
        )}
      </main>
      <Dialogs />
      <div class="toast-region" role="status" aria-live="polite">
        {toast.value && <div class="toast">{toast.value}</div>}
      </div>
    </div>
  );
}
