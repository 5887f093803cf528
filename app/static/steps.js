/* Step mode on a card: the buyers of a step-mode simulation (config mode "step") take no step until told.
 *
 *   one button per buyer --POST /simulations/{id}/step {"buyer": n}--> the model's state: the count, the lock's
 *   holders, each buyer's next step (a button is disabled, with the API's reason, when its buyer cannot step)
 *   "Run to the end"     --POST /simulations/{id}/step {"to_end": true}
 *   then GET /simulations/{id}/replay: every step so far, named, for the chart (stepview.js)
 *
 * The run finishes once every buyer is done; the card then shows its result and timeline as for any run. */

import { api } from "./api.js";
import { $, text } from "./dom.js";
import { t } from "./i18n.js";
import { stepName } from "./terms.js";
import { drawCountAndLock, drawSteps, stepSentence } from "./stepview.js";

export class StepPanel {
  constructor(card) {
    this.card = card;
    this.box = $(".stepping", card.root);
    this.state = null;
    this.taken = [];
    this.busy = false;
    this.status = "queued";
    $(".step-to-end", this.box).addEventListener("click", () => this.step({ to_end: true }));
  }

  get path() {
    return `/simulations/${encodeURIComponent(this.card.id)}`;
  }

  async open(simulation) {
    this.config = simulation.config;
    this.box.hidden = false;
    this.setStatus(simulation.status);
    await this.refresh();
  }

  setStatus(status) {
    this.status = status;
    if (this.state) this.draw();
  }

  /** The state and the steps so far, from the API (on opening, and after each step for the chart). */
  async refresh() {
    try {
      const replay = await api("GET", `${this.path}/replay`);
      if (this.state === null || replay.steps.length >= this.state.steps.length) this.state = replay;
      this.taken = replay.taken;
      this.draw();
    } catch (err) {
      this.say(err.message);
    }
  }

  async step(body) {
    if (this.busy) return;
    this.busy = true;
    this.say("");
    this.draw();
    try {
      this.state = await api("POST", `${this.path}/step`, JSON.stringify(body));
      this.draw();
      await this.refresh();
    } catch (err) {
      this.say(err.message);
    } finally {
      this.busy = false;
      this.draw();
    }
  }

  say(message) {
    const box = $(".step-error", this.box);
    box.textContent = message;
    box.hidden = !message;
  }

  draw() {
    const state = this.state;
    if (!state) return;
    const running = this.status === "running";
    drawCountAndLock(this.box, state, this.config);
    const note = $(".step-note", this.box);
    if (this.status === "queued") note.textContent = t("stepping.queued");
    else if (state.finished) note.textContent = t("stepping.finished");
    else if (!running) note.textContent = t("stepping.stopped");
    else if (this.taken.length) note.textContent = t("stepping.last", { n: this.taken.length, step: stepSentence(this.taken[this.taken.length - 1]) });
    else note.textContent = t("stepping.start");
    const buttons = $(".step-buttons", this.box);
    buttons.replaceChildren(...state.buyers.map((b) => this.button(b, running)));
    const toEnd = $(".step-to-end", this.box);
    toEnd.disabled = this.busy || !running || state.finished;
    drawSteps($(".steps-chart", this.box), {
      taken: this.taken,
      buyers: state.buyers.length,
      start: this.config.tickets,
      columns: state.buyers.length * 3,
    });
  }

  button(b, running) {
    const item = text("li", null, "step-buyer");
    item.dataset.buyer = String(b.buyer);
    const label = b.outcome
      ? t("stepping.button.done", { buyer: b.buyer, outcome: t(`state.outcome.${b.outcome}`) })
      : t("stepping.button", { buyer: b.buyer, step: stepName(b.next_step) });
    const button = text("button", label, "step-buyer-button");
    button.type = "button";
    button.dataset.buyer = String(b.buyer);
    button.dataset.next = b.next_step || "";
    button.disabled = this.busy || !running || !b.can_step;
    item.append(button);
    if (b.waits_for) {
      button.title = b.waits_for;
      const why = text("span", b.waits_for, "waits");
      why.id = `waits-${this.card.id}-${b.buyer}`;
      button.setAttribute("aria-describedby", why.id);
      item.append(why);
    }
    button.addEventListener("click", () => this.step({ buyer: b.buyer }));
    return item;
  }

  /** The run has ended: the controls go, the card shows the result (and its replay). */
  close() {
    this.box.hidden = true;
  }
}
