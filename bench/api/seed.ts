import pg from "pg";

/**
 * Seeds dev-svc's tables straight in PostgreSQL (one INSERT ... SELECT each): `n` iterations of app
 * `app` (team `team`) interleaved with n/5 of 20 other apps (every sixth row), mostly RELEASED with a
 * few of every other status, their RELEASE iteration_phase rows, and a branch head; then VACUUM
 * ANALYZE, as a long-running installation would have. Returns the bench app's counts by status.
 */
export async function seedIterations(
  databaseUrl: string,
  opts: { app: number; team: string; n: number },
): Promise<string[]> {
  const { app: APP, team: TEAM, n: N } = opts;
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query(
      `insert into dev.app_projection (app_id, team, name, dev_mode, tech_stack, revision, procode, created_by, app_updated_at)
       select app_id, $2, 'bench-app-' || app_id, 'pro-code', 'python', 1, $3::jsonb, 'bench', now()
       from (select $1::bigint as app_id union all select $1::bigint + g from generate_series(1, 20) g) a`,
      [
        APP,
        TEAM,
        JSON.stringify({
          gitRepoUrl: "local://bench",
          gitType: "LOCAL",
          credentialId: null,
          scaffoldTemplate: null,
          webhookUrl: "http://127.0.0.1:9/webhooks/local/bench",
          credentialRequired: false,
          stageConfigs: {},
          phases: ["DEVELOPING", "TESTING", "STAGING", "RELEASE"],
          concurrency: "QUEUE",
          deployConfig: { env: {}, resources: { cpu: "1", memory: "2Gi" } },
        }),
      ],
    );
    // Every sixth row belongs to one of 20 other apps, so the bench app's rows are interleaved with
    // others' as in a shared installation. Statuses: mostly RELEASED, a few of every other.
    const total = Math.round((N * 6) / 5);
    await c.query(
      `insert into dev.iteration (app_id, team, name, status, source_branch, current_phase, head_commit,
         head_commit_at, iteration_pipeline_id, phase_pipeline_id, event_seq, created_by, created_at, updated_at)
       select app_id, $2, 'iteration ' || g, status, case when g % 3 = 0 then 'main' else 'feature/' || (g % 50) end,
         case status when 'DRAFT' then null when 'RELEASED' then 'RELEASED' when 'FAILED' then 'RELEASE'
           when 'RELEASING' then 'RELEASE' else status end,
         md5(g::text) || substr(md5((g + 1)::text), 1, 8), now() - (($3 - g) || ' minutes')::interval,
         g, case when status in ('RELEASED', 'FAILED', 'RELEASING') then 1000000 + g end, 4, 'bench',
         now() - (($3 - g) || ' minutes')::interval, now() - (($3 - g) || ' minutes')::interval
       from (
         select g, case when g % 6 = 0 then $1::bigint + 1 + (g / 6) % 20 else $1::bigint end as app_id,
           case when (g * 7919) % 100 < 85 then 'RELEASED' when (g * 7919) % 100 < 90 then 'FAILED'
             when (g * 7919) % 100 < 94 then 'DEVELOPING' when (g * 7919) % 100 < 96 then 'TESTING'
             when (g * 7919) % 100 < 98 then 'STAGING' when (g * 7919) % 100 < 99 then 'RELEASING'
             else 'DRAFT' end as status
         from generate_series(1, $3::int) g
       ) s`,
      [APP, TEAM, total],
    );
    await c.query(
      `insert into dev.iteration_phase (iteration_id, app_id, phase_type, branch, tag, commit_id, rollback,
         status, pipeline_id, event_seq, created_by, created_at, updated_at)
       select id, app_id, 'RELEASE', source_branch, 'v1.' || id || '.0', head_commit, false,
         case status when 'RELEASED' then 'SUCCESS' when 'FAILED' then 'FAILED' else 'RUNNING' end,
         phase_pipeline_id, 3, 'bench', updated_at, updated_at
       from dev.iteration where status in ('RELEASED', 'FAILED', 'RELEASING')`,
    );
    await c.query(
      `insert into dev.branch_head (app_id, branch, commit_id, delivery_seq) values ($1, 'main', md5('head'), 1)`,
      [APP],
    );
    await c.query(`vacuum analyze dev.iteration`);
    await c.query(`vacuum analyze dev.iteration_phase`);
    await c.query(`vacuum analyze dev.iteration_count`);
    return (
      await c.query<{ status: string; n: string }>(
        `select status, n from dev.iteration_count where app_id = $1 order by n desc`,
        [APP],
      )
    ).rows.map((r) => `${r.status} ${r.n}`);
  } finally {
    await c.end();
  }
}
