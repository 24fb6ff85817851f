// Writes `<file>.br` (brotli, quality 11) and `<file>.gz` (gzip, level 9) beside every file under
// a directory, for the server to send to browsers that accept them (server/src/http/assets.rs).
//
//   node scripts/precompress.mjs target/site
//
// Files already compressed (.br, .gz) and images are left alone.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const SKIP = /\.(br|gz|png|jpe?g|gif|webp|avif|woff2?)$/i;

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile() && !SKIP.test(entry.name)) yield path;
  }
}

const [root] = process.argv.slice(2);
if (!root) {
  console.error("usage: node scripts/precompress.mjs <directory>");
  process.exit(2);
}
for (const path of files(root)) {
  const bytes = readFileSync(path);
  writeFileSync(
    `${path}.br`,
    brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }),
  );
  writeFileSync(`${path}.gz`, gzipSync(bytes, { level: 9 }));
}
