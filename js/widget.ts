import type { AnyModel, Render } from "@anywidget/types";
import { ExtensionClient, SignalingError } from "./signaling";
import "./widget.css";

// biome-ignore lint/complexity/noBannedTypes: the widget has no synced traits yet
type Model = {};

const render: Render<Model> = ({ el }: { model: AnyModel<Model>; el: HTMLElement }) => {
  const box = document.createElement("div");
  box.className = "rtnb-status";
  box.textContent = "rt_notebook: checking the server…";
  el.appendChild(box);
  let alive = true;
  new ExtensionClient()
    .status()
    .then((status) => {
      if (!alive) return;
      box.textContent =
        status.backend === "local"
          ? `rt_notebook ${status.version}: local backend (no OpenAI key configured)`
          : `rt_notebook ${status.version}: OpenAI Realtime API`;
    })
    .catch((err: unknown) => {
      if (!alive) return;
      box.classList.add("rtnb-error");
      box.textContent = err instanceof SignalingError ? err.message : String(err);
    });
  return () => {
    alive = false;
    box.remove();
  };
};

export default { render };
