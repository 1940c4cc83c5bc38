import { render } from "preact";
import { App } from "./ui/App";
import { boot } from "./state";
import "./styles.css";

render(<App />, document.getElementById("app")!);
void boot();
