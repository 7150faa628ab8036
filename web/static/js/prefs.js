/**
 * Per-screen preferences kept in localStorage (language, large type, sound,
 * desk filter, heatmap view, layer toggles). Every stored value is checked
 * against its allowed values on read, so a stale or hand-edited entry falls
 * back to the default instead of breaking the page.
 */

const PREFIX = "citybrain.";

function read(key) {
  try {
    return localStorage.getItem(PREFIX + key);
  } catch (err) {  // storage disabled (kiosk policy): preferences are per load then
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, value);
  } catch (err) {
    console.warn("citybrain: cannot store preference", key, err);
  }
}

/** The stored string if ``ok(value)``, else ``fallback``. */
export function getPref(key, fallback, ok = () => true) {
  const v = read(key);
  return v !== null && ok(v) ? v : fallback;
}

export function setPref(key, value) {
  write(key, value === null ? null : String(value));
}

export function getBool(key, fallback) {
  const v = read(key);
  return v === "1" ? true : v === "0" ? false : fallback;
}

export function setBool(key, value) {
  write(key, value ? "1" : "0");
}
