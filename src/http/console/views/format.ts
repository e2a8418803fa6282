// Small text formatters shared by the console's pages.

/** `2025-06-01 14:03:22 UTC`: one unambiguous zone for every reviewer. */
export function formatTime(iso: string | null): string {
  if (iso === null) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `in 4 min`, `12 min ago`: how far an instant is from now. */
export function relativeTime(iso: string | null, now: Date): string {
  if (iso === null) return '';
  const seconds = Math.round((new Date(iso).getTime() - now.getTime()) / 1000);
  const span = formatDuration(Math.abs(seconds));
  return seconds >= 0 ? `in ${span}` : `${span} ago`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${Math.round(seconds / 360) / 10} h`;
  return `${Math.round(seconds / 8640) / 10} d`;
}

/** The first block of a UUID, enough to tell rows apart; the full id goes in a title. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
