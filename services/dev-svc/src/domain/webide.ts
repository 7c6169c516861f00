/**
 * The WebIDE link: the configured template with `{cloneUrl}` and `{branch}` replaced by
 * their URL-encoded values; without a WebIDE, a hint to use a local IDE.
 */
export function renderWebIdeUrl(template: string, values: { cloneUrl: string; branch: string }): string {
  return template
    .replaceAll("{cloneUrl}", encodeURIComponent(values.cloneUrl))
    .replaceAll("{branch}", encodeURIComponent(values.branch));
}

export function localIdeHint(cloneUrl: string, branch: string, reason: string): string {
  return `${reason}; use a local IDE: git clone --branch ${branch} ${cloneUrl}`;
}
