// What the cache stand-in's two steps share: inputs, the store's layout, copying.
const fs = require('fs');
const os = require('os');
const path = require('path');

function input(name) {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '').trim();
}

function lines(name) {
  return input(name).split('\n').map((line) => line.trim()).filter(Boolean);
}

function paths() {
  return lines('path').map((p) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1))
    : path.resolve(process.env.GITHUB_WORKSPACE, p)));
}

function store() {
  const dir = process.env.STANDIN_CACHE;
  if (!dir) throw new Error('STANDIN_CACHE (the cache store\'s folder) is not set');
  return dir;
}

function entry(key) {
  return path.join(store(), encodeURIComponent(key));
}

function append(file, name, value) {
  fs.appendFileSync(process.env[file], `${name}=${value}\n`);
}

// Over what is there, as actions/cache extracts its archive: jobs on one machine may restore the same path (~/.keras).
function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
}

module.exports = { input, lines, paths, store, entry, append, copy };
