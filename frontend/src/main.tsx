import { render } from "preact";
import { registerServiceWorker } from "./lib/pwa";
import { App } from "./ui/App";
import { UpdatePrompt } from "./ui/Notifications";
import { boot, openHash } from "./state";
import "./styles.css";

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
