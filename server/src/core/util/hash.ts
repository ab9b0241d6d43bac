// Small deterministic non-cryptographic hashes (identical on every machine): anchor selection,
// MinHash sketches and sampling seeds. Use node:crypto sha256 where identity matters.

/** murmur3's 32-bit finalizer: spreads every input bit over the output. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units, then fmix32; `seed` selects an independent hash function. */
export function hashString32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ fmix32(seed + 0x9e3779b9)) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h ^ text.length);
}
