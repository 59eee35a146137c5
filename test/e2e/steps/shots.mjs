// Screenshots of a whole dashboard card as a user sees it in VS Code. VS Code sizes the webview's
// frame to its editor area, and the dashboard's sticky header covers the top of what is scrolled
// under it, so a card taller than what is left was cut off in the images. Here the window grows
// until the card fits below the header, the card is scrolled to just below it, and the window is
// shot clipped to the card. Then what the user sees is asserted: every chart canvas of the card is
// inside the image and the webview's frame, and the topmost element at its corners and centre is
// the canvas itself (nothing covers it, no part is scrolled out of the webview).
import * as fs from 'node:fs';

const inside = (b, box) => b.x >= box.x - 0.5 && b.y >= box.y - 0.5 && b.x + b.width <= box.x + box.width + 0.5 && b.y + b.height <= box.y + box.height + 0.5;
const fmt = (b) => `${Math.round(b.x)},${Math.round(b.y)} ${Math.round(b.width)}×${Math.round(b.height)}`;

/** Width and height of a PNG file (its IHDR chunk). */
export function pngSize(file) {
  const b = fs.readFileSync(file);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** In the webview: scroll `el` to just below the sticky or fixed elements at the top; what it then needs of the view. */
function placeBelowHeader(el) {
  const covers = [...document.querySelectorAll('*')]
    .filter((e) => !el.contains(e) && !e.contains(el) && ['sticky', 'fixed'].includes(getComputedStyle(e).position))
    .map((e) => e.getBoundingClientRect())
    .filter((r) => r.height > 0 && r.top <= 1);
  const cover = Math.max(0, ...covers.map((r) => r.bottom));
  window.scrollBy(0, el.getBoundingClientRect().top - cover - 4);
  return { cover, height: el.getBoundingClientRect().height, view: window.innerHeight };
}

/** In the webview: each canvas of `el` whose corners or centre are not the topmost element there. */
export function hiddenCanvases(el) {
  return [...el.querySelectorAll('canvas')].flatMap((cv, i) => {
    const r = cv.getBoundingClientRect();
    const pts = [[r.left + 3, r.top + 3], [r.right - 3, r.top + 3], [r.left + 3, r.bottom - 3], [r.right - 3, r.bottom - 3], [(r.left + r.right) / 2, (r.top + r.bottom) / 2]];
    const bad = pts.filter(([x, y]) => document.elementFromPoint(x, y) !== cv);
    return bad.length ? [`canvas ${i} (#${cv.id}) at ${bad.map(([x, y]) => `${Math.round(x)},${Math.round(y)}: ${document.elementFromPoint(x, y)?.tagName ?? 'outside the view'}`).join('; ')}`] : [];
  });
}

/**
 * Shoot `card` (a locator in the webview) whole to `file` (and the whole window to `windowFile`, if
 * given, while the card is in view); the window's size is put back afterwards.
 * @returns {Promise<{ card: object, canvases: number, grown: number }>} the card's box, how many canvases it holds, how many px the window grew
 */
export async function shootCard(page, card, file, assert, windowFile) {
  const frame = page.locator('iframe.webview.ready').filter({ visible: true }).last();
  const size0 = page.viewportSize();
  let fit = await card.evaluate(placeBelowHeader);
  for (let i = 0; i < 4 && fit.cover + fit.height + 8 > fit.view; i++) {
    const vp = page.viewportSize();
    await page.setViewportSize({ width: vp.width, height: Math.ceil(vp.height + fit.cover + fit.height + 24 - fit.view) });
    await page.waitForTimeout(1000); // the workbench lays itself out again
    fit = await card.evaluate(placeBelowHeader);
  }
  await page.waitForTimeout(300);
  try {
    const c = await card.boundingBox();
    const f = await frame.boundingBox();
    assert(c && f, `the card and the webview have boxes: ${JSON.stringify({ c, f, fit })}`);
    assert(inside(c, f), `the whole card is in the webview's frame: card ${fmt(c)}, frame ${fmt(f)}`);
    const clip = { x: Math.floor(c.x), y: Math.floor(c.y), width: Math.ceil(c.width), height: Math.ceil(c.height) };
    await page.screenshot({ path: file, clip });
    const png = pngSize(file);
    assert(png.width === clip.width && png.height === clip.height, `the image is the card: ${png.width}×${png.height} for ${fmt(clip)}`);
    const canvases = [];
    for (const cv of await card.locator('canvas').all()) canvases.push(await cv.boundingBox());
    assert(canvases.length > 0, 'the card has charts');
    for (const [i, b] of canvases.entries()) {
      assert(b && b.width > 50 && b.height > 50, `canvas ${i} is drawn at a size: ${JSON.stringify(b)}`);
      assert(inside(b, clip) && inside(b, f), `canvas ${i} (${fmt(b)}) is whole in the image (${fmt(clip)}) and in the webview (${fmt(f)})`);
    }
    const hidden = await card.evaluate(hiddenCanvases);
    assert(hidden.length === 0, `every canvas of the card is seen whole (header ${Math.round(fit.cover)} px, card ${Math.round(fit.height)} px, view ${fit.view} px): ${hidden.join(' | ')}`);
    if (windowFile) await page.screenshot({ path: windowFile });
    return { card: c, canvases: canvases.length, grown: page.viewportSize().height - size0.height };
  } finally {
    await page.setViewportSize(size0);
    await page.waitForTimeout(500);
  }
}
