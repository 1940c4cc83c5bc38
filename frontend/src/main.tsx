// The theme and base styles come first; each component brings its own after.
import "./styles.css";
import { render } from "preact";
import { registerServiceWorker } from "./lib/pwa";
import { App } from "./ui/App";
import { UpdatePrompt } from "./ui/Notifications";
import { boot, openHash } from "./state";

render(
  <>
    <App />
    <UpdatePrompt />
  </>,
  document.getElementById("app")!,
);
void boot();
registerServiceWorker(openHash);
// A link to a place in the app (#/<room>?m=<message>) opens it.
window.addEventListener("hashchange", () => openHash(location.hash));
