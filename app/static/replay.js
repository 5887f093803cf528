/* Replay on a card: a finished run that carries its `schedule` is shown step by step with a slider (and
 * previous / next); each position is the model's state after that many steps, as
 * GET /simulations/{id}/replay?steps=k answers it. "Replay exactly" runs the same config with that schedule. */

import { api } from "./api.js";
import { $ } from "./dom.js";
import { t } from "./i18n.js";
import { drawBuyers, drawCountAndLock, drawSteps, stepSentence } from "./stepview.js";

export class ReplayPanel {
  /** `replayExactly(config)` posts a config (the card's hook). */
  constructor(card, replayExactly) {
    this.card = card;
    this.box = $(".replay", card.root);
    this.asked = 0;
    this.slider = $(".replay-slider", this.box);
    this.slider.addEventListener("input", () => this.show(Number(this.slider.value)));
    $(".replay-prev", this.box).addEventListener("click", () => this.show(Number(this.slider.value) - 1));
    $(".replay-next", this.box).addEventListener("click", () => this.show(Number(this.slider.value) + 1));
    $(".replay-exactly", this.box).addEventListener("click", () => replayExactly(this.exactConfig()));
  }

  open(simulation) {
    this.simulation = simulation;
    this.schedule = simulation.result.schedule;
    this.box.hidden = false;
    this.slider.max = String(this.schedule.length);
    $(".replay-schedule", this.box).textContent = t("replay.schedule", { steps: this.schedule.join(", ") });
    this.show(0);
  }

  /** The run's config with the schedule it followed, to run again: the same steps in the same order. */
  exactConfig() {
    const { mode, ...config } = this.simulation.config;
    return { ...config, schedule: this.schedule };
  }

  async show(k) {
    const at = Math.max(0, Math.min(this.schedule.length, k));
    this.slider.value = String(at);
    this.asked += 1;
    const asked = this.asked;
    $(".replay-prev", this.box).disabled = at === 0;
    $(".replay-next", this.box).disabled = at === this.schedule.length;
    try {
      const state = await api("GET", `/simulations/${encodeURIComponent(this.card.id)}/replay?steps=${at}`);
      if (asked !== this.asked) return; // the slider has moved on
      this.draw(state, at);
    } catch (err) {
      $(".replay-position", this.box).textContent = err.message;
    }
  }

  /** Draw again at the window's new width. */
  redraw() {
    if (this.last) this.draw(...this.last);
  }

  draw(state, at) {
    this.last = [state, at];
    const box = this.box;
    box.dataset.at = String(at);
    const position = $(".replay-position", box);
    position.textContent = at
      ? t("replay.position", { k: at, n: this.schedule.length, step: stepSentence(state.taken[at - 1]) })
      : t("replay.position.start", { n: this.schedule.length });
    drawCountAndLock(box, state, this.simulation.config);
    drawBuyers($(".replay-buyers", box), state);
    drawSteps($(".steps-chart", box), {
      taken: state.taken,
      buyers: state.buyers.length,
      start: this.simulation.result.tickets_initial,
      columns: this.schedule.length,
      cursor: at,
    });
  }
}
