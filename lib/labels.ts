// Label lists: the text-file format (one label per line) and the array check, shared by load(), the browser
// entry and the registry. No Node built-ins, so the browser bundle can use it.
import { MobileNetError, describeValue } from './errors';

/** One label per line; CRLF accepted; trailing empty lines dropped (a final newline is not a class). */
export function parseLabelText(text: string): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Checks a user-supplied label array: every item a string. */
export function checkLabelArray(labels: unknown[]): string[] {
  if (!labels.every((l) => typeof l === 'string')) throw new MobileNetError('E_ARG', `Expected labels to be an array of strings, received ${describeValue(labels)} with non-string items. Pass one string per class.`);
  return labels as string[];
}
