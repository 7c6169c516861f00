/**
 * `v` + a semantic version, e.g. v1.0.0 or v2.1.0-rc.1: the rule for release tags, in a module of
 * its own (no zod) so the console checks a tag as it is typed with the same expression the API uses.
 */
export const RELEASE_TAG_PATTERN =
  /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
export const RELEASE_TAG_RULE = "must be 'v' followed by a semantic version, e.g. v1.0.0";
