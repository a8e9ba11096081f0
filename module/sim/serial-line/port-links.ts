import { lstatSync, rmSync, statSync } from 'node:fs';

// socat parses its address argument: these characters would split or quote it.
const UNSAFE_IN_SOCAT_ADDRESS = /[,:!'"\\\s]/;

/**
 * Makes room for a pty link at `linkPath`. A link left by a socat that was killed points at a
 * pty that no longer exists: it is removed. A link to a live pty belongs to a line running
 * elsewhere (another process using the same folder), and anything that is not a link is not
 * ours to delete: both are errors.
 */
export function prepareLinkPath(linkPath: string): void {
  if (UNSAFE_IN_SOCAT_ADDRESS.test(linkPath)) {
    throw new Error(`serial line path ${linkPath} must not contain , : ! quotes or spaces`);
  }
  if (!isSymbolicLink(linkPath)) {
    if (exists(linkPath)) throw new Error(`${linkPath} exists and is not a serial line link`);
    return;
  }
  if (exists(linkPath)) throw new Error(`${linkPath} is in use by another serial line`);
  rmSync(linkPath, { force: true });
}

/** Removes our own link (socat does on SIGTERM, but not when it is killed or crashes). */
export function removeLink(linkPath: string): void {
  if (isSymbolicLink(linkPath)) rmSync(linkPath, { force: true });
}

function isSymbolicLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

// Follows links: false for a dangling one.
function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
