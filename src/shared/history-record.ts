// What `history/<deploy-id>` records of a published release (contract 5): the
// same fields whichever backend keeps it (Consul KV, or an S3 object with Serf).

/** A published release, as recorded once when it is published (a rollback does not rewrite it). */
export interface HistoryRecord {
  deploy_id: string
  manifest_url: string
  src_url: string
  checksum: string
  commit?: string
  run_url?: string
  /** ISO time the release was published */
  published_at: string
  /** unix seconds stamped on every file of the archive (see publish.ts nextFileTime) */
  mtime?: number
  /** layout: releases (contract 9): the two halves of manifest_url (the combined one) */
  prepare_manifest_url?: string
  switch_manifest_url?: string
}
