// fetch() for the browser build (models, weight shards, label files, images): the bytes at a URL, or an E_IO
// MobileNetError naming what was fetched and the Content-Security-Policy directives that govern the request.
import { MobileNetError } from '../errors';

/**
 * The bytes at `url`; E_IO when the request fails (network, CSP) or the response is not 2xx. `what` names the
 * resource in messages, `csp` the page's CSP directives to check.
 *
 * @example
 * const text = new TextDecoder().decode(await fetchBytes('labels.txt', 'the label file'));
 */
export async function fetchBytes(url: string, what: string, csp = 'connect-src'): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new MobileNetError('E_IO', `Expected to fetch ${what} ${url}, but the request failed (${(e as Error).message}). Check the URL and the page's Content-Security-Policy (${csp}).`, { url });
  }
  if (!res.ok) throw new MobileNetError('E_IO', `Expected HTTP 200 for ${what} ${url}, received ${res.status} ${res.statusText}. Check the URL.`, { url, status: res.status });
  return new Uint8Array(await res.arrayBuffer());
}
