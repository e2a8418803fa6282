// Encoding hostile strings the way a hostile client sends them, for the property tests.

/**
 * Percent-encodes a string for a URL or a form body: a NUL as %00, an unpaired surrogate as the
 * (invalid) UTF-8 bytes of its code unit, everything else as encodeURIComponent does.
 */
export function percentEncodeRaw(value: string): string {
  let out = '';
  for (const ch of value) {
    const unit = ch.charCodeAt(0);
    if (ch.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)]
        .map((byte) => `%${byte.toString(16).toUpperCase()}`)
        .join('');
    } else out += encodeURIComponent(ch);
  }
  return out;
}
