/* Presets: one click sets the form up for one of the lessons; Run, Step or Compare cures then shows it. */

import { $, text } from "./dom.js";
import { t } from "./i18n.js";
import { fillForm } from "./form.js";

/** What the form holds when the page opens; a preset changes only what its lesson needs. */
const BASE = {
  buyers: 10,
  tickets: 1,
  store: "file",
  strategy: "read-write",
  lock: "none",
  executor: "process",
  think_ms: 100,
  hold_ms: [100, 300],
  seed: "",
  lock_timeout_s: 30,
  together: true,
};

export const PRESETS = [
  { name: "lesson", config: {} },
  { name: "lost_updates", config: { buyers: 20, tickets: 100, think_ms: [0, 50], hold_ms: [50, 150] } },
  { name: "semaphore", config: { lock: "semaphore", permits: 3, hold_ms: 150 } },
  { name: "lock_timeout", config: { lock: "process", lock_timeout_s: 0.5, think_ms: 0, hold_ms: 1000 } },
  {
    name: "flash_sale",
    config: { buyers: 100_000, tickets: 10_000, executor: "pool", lock: "file", think_ms: 0, hold_ms: 0 },
  },
];

export function presetConfig(name) {
  const preset = PRESETS.find((p) => p.name === name);
  return preset ? { ...BASE, ...preset.config } : null;
}

export function bindPresets() {
  const bar = $("#presets");
  const note = $("#preset-note");
  bar.replaceChildren(
    ...PRESETS.map((preset) => {
      const button = text("button", t(`preset.${preset.name}`), "preset quiet");
      button.type = "button";
      button.dataset.preset = preset.name;
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => {
        fillForm(presetConfig(preset.name));
        for (const other of bar.querySelectorAll("button")) other.setAttribute("aria-pressed", String(other === button));
        note.textContent = t(`preset.${preset.name}.note`);
        note.hidden = false;
      });
      return button;
    }),
  );
}
