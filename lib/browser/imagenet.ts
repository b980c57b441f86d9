// The ImageNet class names inside the browser bundle: scripts/build-browser.js inlines models/imagenet_labels_1001.txt
// and hands it over at start-up, so a 1000/1001-output model without labels gets names with no extra request.
import { parseLabelText } from '../labels';

let text: string | undefined;

/** @internal called once by the bundle's entry with the shipped 1001-line list */
export function useImagenetText(list: string): void {
  text = list;
}

/**
 * The shipped ImageNet names: 1001 with "background" first, or the 1000 after it; undefined outside the bundle.
 *
 * @example
 * (await imagenetLabels(1001))?.[653]; // 'military uniform'
 */
export async function imagenetLabels(classes: 1000 | 1001): Promise<string[] | undefined> {
  if (text === undefined) return undefined;
  const all = parseLabelText(text);
  return classes === 1001 ? all : all.slice(1);
}
