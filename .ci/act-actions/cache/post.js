// Save after a successful job, unless the exact key was restored or another job saved it first.
const fs = require('fs');
const path = require('path');
const { paths, store, entry, copy } = require('./store');

function save() {
  const key = process.env.STATE_CACHE_KEY;
  if (!key) return console.log('No key: the main step did not run; not saving cache.');
  if (process.env.STATE_CACHE_RESULT === key) {
    return console.log(`Cache hit occurred on the primary key ${key}, not saving cache.`);
  }
  const present = paths().map((from, i) => [from, i]).filter(([from]) => fs.existsSync(from));
  if (!present.length) {
    return console.log('::warning::Path Validation Error: Path(s) specified in the action for caching do(es) not '
      + 'exist, hence no cache is being saved.');
  }
  if (fs.existsSync(entry(key))) return console.log(`Unable to reserve cache with key ${key}: it exists.`);
  const part = path.join(`${store()}.partial`, `${encodeURIComponent(key)}-${process.pid}`);  // outside the store
  present.forEach(([from, i]) => copy(from, path.join(part, String(i))));
  fs.mkdirSync(store(), { recursive: true });
  fs.renameSync(part, entry(key));
  console.log(`Cache saved with key: ${key}`);
}

try {
  save();
} catch (error) {
  console.log(`::warning::Failed to save: ${error.message}`);
}
