// ZSTD body compression for Arrow IPC, registered with apache-arrow's codec registry.
// apache-arrow 21.2.0 writes the *compressed* length into each buffer's 8-byte prefix, where the
// Arrow spec wants the uncompressed length; ArrowStreamSink corrects the prefix (see fixPrefixes).

import { CompressionType, compressionRegistry } from 'apache-arrow';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let registered = false;

interface ZstdNapi {
  compress(data: Uint8Array, params?: Record<string, number>): Buffer;
  decompress(data: Uint8Array): Buffer;
}

export function registerZstd(level = 1): void {
  if (registered) return;
  const zstd = require('zstd-napi') as ZstdNapi;
  compressionRegistry.set(CompressionType.ZSTD, {
    encode: (data: Uint8Array) => zstd.compress(data, { compressionLevel: level }),
    // The reader needs a byteOffset aligned to 8 for typed-array views: copy into a fresh buffer.
    decode: (data: Uint8Array) => new Uint8Array(zstd.decompress(data)).slice(),
  });
  registered = true;
}
