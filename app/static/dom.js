/* Building the page's HTML and SVG elements. */

export const SVG_NS = "http://www.w3.org/2000/svg";

export const $ = (selector, root = document) => root.querySelector(selector);

/** An element with its text (when given) and class. */
export function text(tag, content, className) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (content !== undefined && content !== null) el.textContent = String(content);
  return el;
}

export function svgEl(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

export function svgText(content, x, y, className) {
  const el = svgEl("text", { x, y, class: className });
  el.textContent = content;
  return el;
}
