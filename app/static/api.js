/* Talking to the HTTP API: requests, errors in the user's words, and JSON that keeps big integers exact. */

/** JSON.parse that keeps integers beyond 2^53 (seeds, nanosecond clocks) exact, as strings. */
export function parseJSON(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value) && context) {
      return context.source;
    }
    return value;
  });
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** FastAPI's `detail` (a string, or a list of {loc, msg}) as one readable line naming the fields. */
function describeError(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const loc = (d.loc || []).filter((part) => part !== "body").join(".");
        return loc && !String(d.msg).startsWith(`${loc}:`) ? `${loc}: ${d.msg}` : d.msg;
      })
      .join("; ");
  }
  if (typeof detail === "string") return detail;
  return `The server answered ${status}.`;
}

export async function api(method, path, bodyText) {
  const headers = { Accept: "application/json" };
  if (bodyText !== undefined) headers["Content-Type"] = "application/json";
  const token = document.getElementById("token").value.trim();
  if (token && method !== "GET") headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: bodyText });
  } catch (err) {
    throw new ApiError(0, "The server could not be reached.");
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? parseJSON(text) : null;
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    let message = describeError(response.status, body);
    if (response.status === 401) message += " Set the API token under More options.";
    throw new ApiError(response.status, message);
  }
  return body;
}

/** The request body; the seed is written as typed, so a seed beyond 2^53 is not rounded (and a negative one is
 * sent as the number it is, for the server to refuse as a seed rather than as text). */
export function configBody(config) {
  const { seed, ...rest } = config;
  const text = JSON.stringify(rest);
  if (seed === undefined || seed === null || seed === "") return text;
  const literal = /^-?\d+$/.test(String(seed)) ? String(seed) : JSON.stringify(String(seed));
  return text === "{}" ? `{"seed":${literal}}` : `${text.slice(0, -1)},"seed":${literal}}`;
}
