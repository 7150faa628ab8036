/**
 * The tone for new critical alerts: generated with WebAudio (no sound file),
 * three short beeps. Browsers only allow audio after a user gesture, so the
 * AudioContext is created (or resumed) on the first click or key press; until
 * then the sound button says so. A mute toggle is remembered per screen.
 */

import { state } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { getBool, setBool } from "./prefs.js";

const MIN_GAP_MS = 1500;  // a burst of critical alerts gives one tone, not a siren
const BEEPS = [[880, 0], [660, 0.22], [880, 0.44]];  // Hz, start offset s

let ctx = null;
let muted = getBool("muted", false);
let lastToneAt = 0;
let missed = false;  // a tone was due while audio was still locked
let button = null;

state.stats.tones = 0;

function unlocked() {
  return ctx !== null && ctx.state === "running";
}

function unlock() {
  try {
    if (!ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      ctx = new Ctx();
    }
    if (ctx.state === "suspended") ctx.resume().then(render, (err) => console.warn("citybrain: audio resume failed:", err));
  } catch (err) {
    console.warn("citybrain: WebAudio unavailable:", err);
  }
  render();
}

function beep() {
  const now = ctx.currentTime;
  for (const [freq, offset] of BEEPS) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    const start = now + offset;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.35, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + 0.2);
  }
}

/** A new critical alert needs attention: play the tone unless muted or too soon after the last. */
export function alertTone() {
  state.stats.tones += 1;
  if (muted) return;
  const now = Date.now();
  if (now - lastToneAt < MIN_GAP_MS) return;
  lastToneAt = now;
  if (!unlocked()) {
    missed = true;
    render();
    return;
  }
  try {
    beep();
  } catch (err) {
    console.warn("citybrain: tone failed:", err);
  }
}

function render() {
  if (!button) return;
  const locked = !muted && !unlocked();
  button.dataset.state = muted ? "muted" : locked ? "locked" : "on";
  button.dataset.missed = locked && missed ? "true" : "false";
  button.textContent = t(muted ? "sound.off" : locked ? "sound.locked" : "sound.on");
  button.setAttribute("aria-pressed", muted ? "false" : "true");
  button.title = t("sound.title");
}

export function initSound() {
  button = document.getElementById("sound-toggle");
  button.addEventListener("click", () => {
    if (!unlocked()) { unlock(); if (muted) muted = false; } else { muted = !muted; }
    setBool("muted", muted);
    missed = false;
    render();
  });
  // Any gesture unlocks audio, so the first real alert can be heard.
  for (const type of ["pointerdown", "keydown"]) {
    window.addEventListener(type, unlock, { capture: true, passive: true });
  }
  onLangChange(render);
  render();
}
