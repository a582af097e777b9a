// Restore: the exact key, else the newest entry whose key starts with a restore key.
const fs = require('fs');
const path = require('path');
const { input, lines, paths, store, entry, append, copy } = require('./store');

function newest(prefix) {
  if (!fs.existsSync(store())) return null;
  const keys = fs.readdirSync(store()).map(decodeURIComponent).filter((key) => key.startsWith(prefix));
  keys.sort((a, b) => fs.statSync(entry(b)).mtimeMs - fs.statSync(entry(a)).mtimeMs);
  return keys[0] || null;
}

function matching(key) {
  if (fs.existsSync(entry(key))) return key;
  for (const prefix of lines('restore-keys')) {
    const found = newest(prefix);
    if (found) return found;
  }
  return null;
}

function main() {
  const key = input('key');
  if (!key) throw new Error('Input required and not supplied: key');
  const matched = matching(key);
  append('GITHUB_STATE', 'CACHE_KEY', key);
  append('GITHUB_STATE', 'CACHE_RESULT', matched || '');
  append('GITHUB_OUTPUT', 'cache-primary-key', key);
  if (!matched) {
    if (input('fail-on-cache-miss') === 'true') throw new Error(`Failed to restore cache entry. Input key: ${key}`);
    append('GITHUB_OUTPUT', 'cache-hit', 'false');
    console.log(`Cache not found for input keys: ${[key, ...lines('restore-keys')].join(', ')}`);
    return;
  }
  if (input('lookup-only') !== 'true') {
    paths().forEach((to, i) => {
      const from = path.join(entry(matched), String(i));
      if (fs.existsSync(from)) copy(from, to);
    });
  }
  append('GITHUB_OUTPUT', 'cache-hit', String(matched === key));
  append('GITHUB_OUTPUT', 'cache-matched-key', matched);
  console.log(`Cache restored from key: ${matched}`);
}

try {
  main();
} catch (error) {
  console.log(`::error::${error.message}`);
  process.exitCode = 1;
}
