// `layout: releases` on the node (contract 9): the shell commands the action
// adds to the prepare, switch and combined manifests. Pure: strings only.
//
//   <dest>/releases/<deploy-id>/   one directory per prepared release (stretcher's dest at prepare)
//   <dest>/current  -> releases/<deploy-id>   what the app runs; replaced by rename, never missing
//   <dest>/previous -> releases/<deploy-id>   the release current replaced (kept by the pruning)
//
// Every command runs with `sh -c` in stretcher's working directory (research
// §5), so every path is absolute, built from dest. The deploy ID is from a
// closed alphabet (DEPLOY_ID_PATTERN); dest is quoted for sh. A dest from the
// template may hold Go template actions (`{{ env "ROOT" }}/app`): stretcher v2
// expands them on the node before sh sees the command, so the expansion must
// not hold a single quote.
import { DEPLOY_ID_PATTERN } from '../../config/deploy-id.ts'
import { InputError } from '../../shared/errors.ts'

/** The base directory as one sh word. Throws when it cannot be quoted safely. */
export function destWord(dest: string): string {
  const base = dest.length > 1 ? dest.replace(/\/+$/, '') : dest
  if (base === '' || base === '/')
    throw new InputError('dest', `${JSON.stringify(dest)} cannot hold releases/ and current`)
  if (/[\0\r\n]/.test(base))
    throw new InputError('dest', `${JSON.stringify(dest)} spans lines (layout: releases)`)
  if (base.includes('{{')) {
    // Expanded on the node before sh runs: the action text is kept as written,
    // and a single quote around it would end at any quote it holds.
    if (base.includes("'"))
      throw new InputError(
        'dest',
        `${JSON.stringify(dest)} holds a template action and a single quote: with layout: releases it cannot be quoted for sh`
      )
    return `'${base}'`
  }
  return `'${base.replace(/'/g, `'\\''`)}'`
}

/** `<dest>/releases/<deploy-id>`: stretcher's dest for the prepare phase. */
export function releaseDir(dest: string, deployId: string): string {
  checkId(deployId)
  return `${dest.length > 1 ? dest.replace(/\/+$/, '') : dest}/releases/${deployId}`
}

function checkId(deployId: string): void {
  if (!DEPLOY_ID_PATTERN.test(deployId))
    throw new Error(`deploy ID ${JSON.stringify(deployId)} is not safe in a shell command`)
}

/**
 * Prepare, before the template's `pre`: rsync creates only the last directory
 * of its destination, so releases/ must exist.
 */
export function prepareCommand(dest: string): string {
  return `mkdir -p ${destWord(dest)}/releases`
}

/**
 * The switch: `current` is replaced by renaming a new symlink over it (rename(2)
 * is atomic: a reader sees the old link or the new one, never none; GNU
 * `mv -T` renames onto the link itself instead of into the directory it points
 * at). The release must be prepared; a `current` that is a real directory (an
 * in-place fleet moved to releases in the same dest) is refused. `previous`
 * names the release that was current, unless it is the same one.
 */
export function switchCommand(dest: string, deployId: string): string {
  checkId(deployId)
  return [
    `d=${destWord(dest)}`,
    `r=releases/${deployId}`,
    `if [ ! -d "$d/$r" ]; then echo "stretcher-action: $d/$r is not prepared on this node" >&2; exit 1; fi`,
    `if [ -d "$d/current" ] && [ ! -L "$d/current" ]; then echo "stretcher-action: $d/current is a directory, not a symlink: move it away first (README: moving an in-place fleet)" >&2; exit 1; fi`,
    `o=$(readlink "$d/current" 2>/dev/null || true)`,
    `rm -f "$d/current.tmp"`,
    `ln -s "$r" "$d/current.tmp"`,
    `mv -T "$d/current.tmp" "$d/current"`,
    `if [ -n "$o" ] && [ "$o" != "$r" ]; then rm -f "$d/previous.tmp" && ln -s "$o" "$d/previous.tmp" && mv -T "$d/previous.tmp" "$d/previous"; fi`,
    `echo "stretcher-action: $d/current -> $r (was \${o:-none})"`
  ].join(' && ')
}

/**
 * After the template's `post`: delete the oldest releases (by name: generated
 * deploy IDs sort by time) until `keep` are left, never the one `current` or
 * `previous` points at.
 */
export function pruneCommand(dest: string, keep: number): string {
  if (!Number.isSafeInteger(keep) || keep < 2) throw new Error(`keep-releases ${keep} is below 2`)
  return [
    'LC_ALL=C; export LC_ALL',
    `d=${destWord(dest)}`,
    `cd "$d/releases" || exit 0`,
    `c=$(readlink "$d/current" 2>/dev/null || true)`,
    `p=$(readlink "$d/previous" 2>/dev/null || true)`,
    'n=0',
    'for r in *; do if [ -d "$r" ]; then n=$((n+1)); fi; done',
    `for r in *; do if [ "$n" -le ${keep} ]; then break; fi; if [ -d "$r" ] && [ "releases/$r" != "$c" ] && [ "releases/$r" != "$p" ]; then rm -rf -- "$r" && n=$((n-1)) && echo "stretcher-action: deleted $d/releases/$r"; fi; done`
  ].join('; ')
}

/**
 * A sh command printing the releases the node keeps as a JSON array of
 * strings (names outside the deploy-ID alphabet left out), for the result.
 */
export function keptReleasesCommand(dest: string): string {
  return `(cd ${destWord(dest)}/releases 2>/dev/null && for r in *; do case "$r" in *[!0-9A-Za-z._-]*) ;; *) if [ -d "$r" ]; then printf '"%s",' "$r"; fi ;; esac; done)`
}
