export interface paths {
    "/apps": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List the team's apps (paged; filter by devMode, search by name) */
        get: operations["listApps"];
        put?: never;
        /**
         * Create an app (low-code or pro-code)
         * @description A pro-code app's repository is probed first (1003 when it cannot be reached; another team's LOCAL repository is not reachable), and a given credentialId must be one of the team's for the repository's provider (1001). The name is unique within the team (1002). Its binding (webhook, scaffold push) then goes on in dev-svc: `GET /apps/{id}/repo`. Safe to retry with an Idempotency-Key.
         */
        post: operations["createApp"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get an app of the team
         * @description Another team's app answers 404 (1004) exactly like one that does not exist.
         */
        get: operations["getApp"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/iterations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The app's iterations, newest first, paged, optionally of one status
         * @description Paged by page and pageSize, or by cursor (keyset paging: the nextCursor of the page before, whose cost does not grow with depth). 1001 naming cursor for a cursor this list did not answer, or a cursor with page.
         */
        get: operations["listAppIterations"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List an app's notification subscriptions (never their secrets) */
        get: operations["listNotifications"];
        put?: never;
        /**
         * Subscribe a URL to an app's events (signed Standard Webhooks deliveries)
         * @description The URL must pass the SSRF rules now (https; no private, loopback or link-local address, by literal or by name: 1001 naming url) and again at each delivery. The secret (`whsec_...`) is generated when left out and shown in this answer only. At most 25 subscriptions per app (1010).
         */
        post: operations["createNotification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/notifications/{subscriptionId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete a subscription and its delivery log; nothing more is sent to it */
        delete: operations["deleteNotification"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/notifications/{subscriptionId}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A subscription's delivery log, newest first (paged; filter by status)
         * @description Each delivery: its webhook-id, the event, attempts, the last status code or error, the next attempt (PENDING), when it was delivered. Deliveries are retried with backoff for 24 h, then FAILED.
         */
        get: operations["listNotificationDeliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/procode-config": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Configure a pro-code app's repository and pipeline settings
         * @description Fields left out keep their value. The repository is probed again when its URL changes (1003 when unreachable, another team's LOCAL repository included); a given credentialId must be one of the team's for the repository's provider (1001). A low-code app answers 1001 naming devMode.
         */
        put: operations["putProcodeConfig"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/quality": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The app's quality gate history, newest first, paged
         * @description One item per QUALITY_GATE attempt: verdict (PASS, BLOCK, CONFIGURATION_ERROR, or WAIVED for a BLOCK a person let through), pass rate with its 95% Wilson interval, the number of newly failing cases against the last released version, the unit tests, the tag and commit.
         */
        get: operations["listAppQualityReports"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/quality/{reportId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One quality gate report with its reasons and cases
         * @description The newly failing, newly passing and missing cases against the last released version and every failing case, each with its input, the agent's output and the failing assertion; scores per tag; /invoke latency P50/P95; the waiver when one was recorded.
         */
        get: operations["getAppQualityReport"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/repo": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The app's repository binding (git_repo): state, last error, webhook URL, scaffold */
        get: operations["getRepoBinding"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/repo/branches": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Branches with their head commits (cached; stale with a message when the provider is down)
         * @description 1006 (503) when the provider is down and nothing is cached yet.
         */
        get: operations["listBranches"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/repo/tags": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Tags with their commits (cached; stale with a message when the provider is down) */
        get: operations["listTags"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/repo/webhook-deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The app's webhook deliveries, newest first (paged), refused ones with their reason */
        get: operations["listWebhookDeliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/apps/{id}/webide": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A link opening the repository at a branch in the WebIDE, or the clone URL and a local-IDE hint */
        get: operations["getWebIdeLink"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/credentials": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List the team's credentials (metadata only; paged, oldest first) */
        get: operations["listCredentials"];
        put?: never;
        /**
         * Store a git credential (token encrypted; never returned)
         * @description The token is sealed with AES-256-GCM under the active key; responses, logs and errors never contain it. Bindings waiting for this credential are retried at once. Safe to retry with an Idempotency-Key.
         */
        post: operations["createCredential"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/credentials/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One credential of the team (metadata only; 5004 for any other) */
        get: operations["getCredential"];
        put?: never;
        post?: never;
        /** Delete a credential no repository uses (5005 names the apps that do) */
        delete: operations["deleteCredential"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/deploy/callback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Deployment status from the ops module (signed)
         * @description The ops module's callback. Authenticated by `x-ops-signature: sha256=<hex>`, HMAC-SHA256 with the shared secret over `<x-ops-timestamp>.<raw body>`; the timestamp (unix seconds) must be within 5 minutes. A bad or missing signature answers 401 (5002), an unknown deployId 404 (4004); once signed, a body holding text the database cannot store or nested too deep is 1001 naming the field; 5006 (429) for an address whose calls were refused more than the per-address limit allows within its window (accepted calls never count).
         */
        post: operations["deployCallback"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The team's live events (Server-Sent Events)
         * @description A Server-Sent Events stream of the caller's team: `event: pipeline` (a pipeline's summary after each change), `event: iteration` (an iteration after each change), `event: log` (a line added to a stage attempt's log), `event: deployment` (a deployment started, waits for the ops module, or finished), `event: repository` (an app's repository binding was created or changed: binding state, last error, scaffold state), `event: app` (an app was created or its configuration changed), `event: webhook` (a repository webhook delivery was recorded or its outcome changed) and `event: notification` (a notification delivery was written or attempted), each with `id:` its position in the stream and `data:` the event as JSON. A comment line `: heartbeat` comes every 15 s. Reconnecting with `Last-Event-ID` (or `lastEventId`) resumes after that event when it is less than an hour old; otherwise the stream first sends `event: reset` (reload what you show). Passed through unbuffered (`X-Accel-Buffering: no`).
         */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/iterations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Create an iteration of a pro-code app from a branch (status DRAFT)
         * @description 1001 for a bad field, a low-code app or a branch that does not exist; 1004 (404) for an app that is not the team's; 1006 (503) when the provider is down and no branch list is cached. The iteration leaves DRAFT when its pipeline reaches DEVELOPING. Safe to retry with an Idempotency-Key (a lost answer retried makes no second iteration).
         */
        post: operations["createIteration"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/iterations/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An iteration: status, current phase, head commit, releases with their tags and pipelines */
        get: operations["getIteration"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/iterations/{id}/proceed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Move an iteration to its next phase (TESTING, STAGING, RELEASE with a tag)
         * @description 2002 unknown or backwards target (or not a phase of the app), 2001 the current phase cannot proceed (a release still running, RELEASED), 2003 RELEASE without a tag; RELEASE with a tag is a release (202 when pipeline-engine has not answered yet). 503 (9003) when pipeline-engine does not answer; nothing changed.
         */
        post: operations["proceedIteration"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/iterations/{id}/release": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Tag the head of the source branch and start the release's phase pipeline
         * @description tag is 'v' + a semantic version (1001). The same tag on the same commit is success; on another commit 2003, unless the app released that tag before (a rollback: its commit is deployed again, no new tag). 202 with status PENDING and pipelineId null when pipeline-engine does not answer: the release is recorded and starts when it is back.
         */
        post: operations["releaseIteration"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/pipelines": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Pipelines filtered by refId, parentId, appId, type and status, newest first */
        get: operations["listPipelines"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/pipelines/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A pipeline with its checkpoints
         * @description Another team's pipeline answers 404 (3004) like one that does not exist.
         */
        get: operations["getPipeline"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/pipelines/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * End an unfinished pipeline
         * @description The pipeline becomes CANCELLED and a running deployment is asked to stop; cancelling an iteration pipeline cancels its running release too. 3001 when it already ended. The body is optional: nothing, or `{ "reason": "..." }`.
         */
        post: operations["cancelPipeline"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/pipelines/{id}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The stage logs of a phase pipeline
         * @description Each stage attempt's log, line by line with timestamps: the runner's steps, the checks and their findings, the rendered Dockerfile, the image builder's and the ops module's answers; at most 1 MiB of text per attempt (`truncated` says an attempt was cut). Ordered by stage (CODE_CHECK, BUILD, PACKAGE, DEPLOY), attempt and line. `stage` keeps one stage, `attempt` (with `stage`) one attempt. An iteration pipeline has no stage logs. Another team's pipeline answers 404 (3004) like one that does not exist; 503 (9003) when a service that keeps some of the lines does not answer.
         */
        get: operations["getPipelineLogs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/pipelines/{id}/proceed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Move on after a MANUAL stage succeeded, waive a blocked quality gate, or move an iteration to its next phase
         * @description A phase pipeline: 3001 when it is not waiting for proceed (`awaiting.action` is PROCEED when it is). A phase pipeline whose quality gate blocked the release: proceed with a `reason` waives the gate and DEPLOY runs (the waiver is kept on the QUALITY_GATE checkpoint and with its report); 1001 without a reason, 3001 for a gate that failed on a configuration error, which is fixed in the repository. An iteration pipeline moves to the app's next phase, as `POST /iterations/{id}/proceed` would: 2001 when the iteration is releasing, released or cancelled; 2003 when the next phase is RELEASE, which needs a tag (`POST /iterations/{id}/release`). The body is optional: nothing, or `{ "reason": "..." }`.
         */
        post: operations["proceedPipeline"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/pipelines/{id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Continue from the breakpoint
         * @description The failed or stuck stage runs again with its retry count reset; succeeded stages do not. 3001 when there is nothing to resume, 3005 while another release of the app holds it. The body is optional: nothing, or `{ "reason": "..." }`.
         */
        post: operations["resumePipeline"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/pipelines/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Run the failed stage once more, within its retry budget
         * @description 3001 unless FAILED (or superseded by a newer release), 3002 when `currentRetries` has reached the stage's `maxRetries` (resume starts it afresh), 3005 while another release of the app holds it. The body is optional: nothing, or `{ "reason": "..." }`.
         */
        post: operations["retryPipeline"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/webhooks/{gitType}/{appId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Receive a push from GitLab, GitHub, Gitee or a LOCAL post-receive hook
         * @description Public: no bearer token, but signed by the provider as its security scheme says (the app's webhook secret over the raw body, checked in constant time). Every refusal before the signature holds (an unknown or unbound app, another provider, a forged, unsigned or stale delivery) is the same 5002 (401) answer; the app's team reads the reason in its delivery log. A signed body that is not JSON, holds text the database cannot store or is nested too deep is 1001 naming the field. Stored, deduplicated by delivery id, answered at once, processed in the background; 5006 (429) past the per-address rate limit.
         */
        post: operations["receiveWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * @description An agent app
         * @example {
         *       "id": 123,
         *       "name": "my-agent",
         *       "devMode": "pro-code",
         *       "techStack": "python",
         *       "team": "default",
         *       "createdBy": "alice",
         *       "procodeConfig": null,
         *       "createdAt": "2026-02-27T10:00:00Z",
         *       "updatedAt": "2026-02-27T10:00:00Z"
         *     }
         */
        App: {
            id: number;
            name: string;
            devMode: components["schemas"]["DevMode"];
            techStack: components["schemas"]["TechStack"] | null;
            /** @description The team that owns the app (from the creator's token) */
            team: string;
            createdBy: string;
            /** @description null for low-code apps */
            procodeConfig: components["schemas"]["ProcodeConfig"] | null;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
        };
        /** @description An app was created or its pro-code configuration changed; its name, mode and revision, in the transaction of the change. */
        AppEvent: {
            /** Format: uuid */
            id: string;
            /** @constant */
            type: "live.app.v1";
            version: number;
            /** Format: date-time */
            occurredAt: string;
            correlationId: string;
            data: {
                appId: number;
                name: string;
                devMode: components["schemas"]["DevMode"];
                revision: number;
            };
        };
        /** @description A page of App items */
        AppPage: {
            items: components["schemas"]["App"][];
            /** @description Items matching the query, all pages together */
            total: number;
            page: number;
            pageSize: number;
        };
        /** @description What the pipeline waits for from a person */
        Awaiting: {
            /**
             * @description PROCEED: a MANUAL stage succeeded; RETRY_OR_RESUME: a stage failed (retry within its retry budget, or resume)
             * @enum {string}
             */
            action: "PROCEED" | "RETRY_OR_RESUME";
            stage: components["schemas"]["StageName"];
            hint: string;
        };
        /**
         * @description The pipeline is CANCELLED; previousState is where it was
         * @example {
         *       "pipelineId": 789,
         *       "status": "CANCELLED",
         *       "previousState": "DEPLOYING"
         *     }
         */
        CancelPipelineResponse: {
            pipelineId: number;
            status: components["schemas"]["PipelineStatus"];
            previousState: components["schemas"]["PipelineState"];
        };
        /**
         * @description One attempt of a stage
         * @example {
         *       "stage": "CODE_CHECK",
         *       "status": "SUCCESS",
         *       "attempt": 1,
         *       "output": {
         *         "commitId": "abc123"
         *       },
         *       "error": null,
         *       "startedAt": "2026-02-27T10:00:00Z",
         *       "finishedAt": "2026-02-27T10:00:05Z"
         *     }
         */
        Checkpoint: {
            stage: components["schemas"]["StageName"];
            status: components["schemas"]["CheckpointStatus"];
            /** @description 1 for the first attempt of the stage */
            attempt: number;
            /** @description CODE_CHECK commitId, BUILD dockerfile, PACKAGE image; inputs of later stages */
            output: {
                [key: string]: unknown;
            } | null;
            error: string | null;
            /** Format: date-time */
            startedAt: string;
            finishedAt: string | null;
            /** @description Present while this running attempt waits for an outside system that does not answer */
            waiting?: components["schemas"]["CheckpointWaiting"];
            /** @description QUALITY_GATE: a person let this blocked attempt through (who, why, when) */
            waiver?: {
                by: string;
                reason: string;
                /** Format: date-time */
                at: string;
            };
        };
        /** @enum {string} */
        CheckpointStatus: "RUNNING" | "SUCCESS" | "FAILED" | "CANCELLED";
        /** @description The attempt waits for an outside system (the image builder, the ops module, a git provider); it goes on by itself when the system answers, and nothing fails for it */
        CheckpointWaiting: {
            /** @constant */
            state: "WAITING_OPS";
            /** @description The outside system and what it answered (or did not) */
            reason: string;
            /** Format: date-time */
            since: string;
        };
        /** @enum {string} */
        ConcurrencyPolicy: "QUEUE" | "REJECT";
        /**
         * @description techStack and gitRepoUrl are required when devMode is pro-code
         * @example {
         *       "name": "my-agent",
         *       "devMode": "pro-code",
         *       "techStack": "python",
         *       "gitRepoUrl": "https://gitlab.example.com/my-agent.git"
         *     }
         */
        CreateAppRequest: {
            /** @description Unique within the team */
            name: string;
            devMode: components["schemas"]["DevMode"];
            /** @description Required for pro-code apps */
            techStack?: components["schemas"]["TechStack"];
            /**
             * Format: uri
             * @description Required for pro-code apps
             * @example https://gitlab.example.com/my-agent.git
             * @example local://sample-agent
             */
            gitRepoUrl?: string;
            scaffoldTemplate?: components["schemas"]["ScaffoldTemplateName"];
            /** @description Detected from the URL when left out */
            gitType?: components["schemas"]["GitType"];
            /** @description A credential of the team (POST /credentials); can be set later */
            credentialId?: string;
        };
        /**
         * @description A git credential; the token is sealed (AES-256-GCM) and never returned
         * @example {
         *       "gitType": "GITLAB",
         *       "name": "ci",
         *       "token": "glpat-xxxxxxxxxxxxxxxxxxxx"
         *     }
         */
        CreateCredentialRequest: {
            gitType: components["schemas"]["GitType"];
            /** @description A name to recognise it by */
            name: string;
            /** @description The provider's access token; write-only */
            token: string;
            /** @description The user name, where the provider needs one */
            username?: string;
        };
        /** @description A new subscription with its signing secret, shown this once */
        CreatedNotification: {
            id: number;
            appId: number;
            /** Format: uri */
            url: string;
            eventTypes: components["schemas"]["NotificationEventType"][];
            createdBy: string;
            /** Format: date-time */
            createdAt: string;
            /** @description The signing secret; shown in this answer only. Verify deliveries with it (webhook-signature). */
            secret: string;
        };
        /**
         * @description The body of POST /iterations
         * @example {
         *       "appId": 123,
         *       "name": "v1.0.0",
         *       "sourceBranch": "main"
         *     }
         */
        CreateIterationRequest: {
            /** @description A pro-code app of the team */
            appId: number;
            name: string;
            /**
             * @description A branch of the app's repository
             * @example main
             */
            sourceBranch: string;
        };
        /**
         * @description A notification subscription of an app
         * @example {
         *       "url": "https://hooks.example.com/procode",
         *       "eventTypes": [
         *         "pipeline.failed"
         *       ]
         *     }
         */
        CreateNotificationRequest: {
            /**
             * Format: uri
             * @description Where deliveries are POSTed: https (http only where the installation allows it); never a private, loopback or link-local address
             */
            url: string;
            eventTypes: components["schemas"]["NotificationEventType"][];
            /**
             * @description The signing secret (Standard Webhooks): whsec_ and the base64 of 24 to 64 bytes. Write-only; generated when left out and shown once.
             * @example whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
             */
            secret?: string;
        };
        /**
         * @description A git credential's metadata (never its token)
         * @example {
         *       "id": "cred-1",
         *       "gitType": "GITLAB",
         *       "name": "ci",
         *       "username": null,
         *       "keyId": "k1",
         *       "createdBy": "alice",
         *       "createdAt": "2026-02-27T10:00:00Z"
         *     }
         */
        Credential: {
            id: string;
            gitType: components["schemas"]["GitType"];
            name: string;
            username: string | null;
            /** @description The encryption key the token is sealed under */
            keyId: string;
            createdBy: string;
            /** Format: date-time */
            createdAt: string;
        };
        /** @description A page of Credential items */
        CredentialPage: {
            items: components["schemas"]["Credential"][];
            /** @description Items matching the query, all pages together */
            total: number;
            page: number;
            pageSize: number;
        };
        /** @description The credential deleted */
        DeletedCredential: {
            id: string;
        };
        /** @description The subscription is gone, with its delivery log */
        DeletedNotification: {
            id: number;
            /** @constant */
            deleted: true;
        };
        /**
         * @description The body of the ops module's callback
         * @example {
         *       "deployId": "deploy-xxx",
         *       "status": "SUCCESS",
         *       "message": "deployed",
         *       "timestamp": "2026-02-27T10:10:00Z"
         *     }
         */
        DeployCallback: {
            deployId: string;
            /** @description SUCCESS, FAILED and CANCELLED end the deployment; others are progress */
            status: string;
            /** @default  */
            message: string;
            /** @description When the ops module sent it (ISO 8601 in the seed) */
            timestamp: string;
        };
        /** @description What the callback did */
        DeployCallbackResponse: {
            deployId: string;
            accepted: boolean;
            /**
             * @description APPLIED: the first terminal status; RECORDED: progress, or a repeat
             * @enum {string}
             */
            effect: "APPLIED" | "RECORDED";
        };
        /**
         * @description What ops receives with a deployment (its config)
         * @example {
         *       "env": {
         *         "KEY": "VALUE"
         *       },
         *       "resources": {
         *         "cpu": "1",
         *         "memory": "2Gi"
         *       }
         *     }
         */
        DeployConfig: {
            /** @default {} */
            env: {
                [key: string]: string;
            };
            /**
             * @default {
             *       "cpu": "1",
             *       "memory": "2Gi"
             *     }
             */
            resources: {
                /** @default 1 */
                cpu: string;
                /** @default 2Gi */
                memory: string;
            };
        };
        /**
         * @description What to change in the deploy config; left out keeps, null returns to the default
         * @example {
         *       "env": {
         *         "LOG_LEVEL": "debug"
         *       }
         *     }
         * @example {
         *       "resources": {
         *         "memory": "4Gi"
         *       }
         *     }
         */
        DeployConfigPatch: {
            /** @description Variables to set; a variable set to null is removed */
            env?: {
                [key: string]: string | null;
            };
            resources?: {
                cpu?: string | null;
                memory?: string | null;
            };
        };
        /** @description A deployment started, waits for the ops module, or finished; beside the ops events the engine reads, in the same transaction. */
        DeploymentEvent: {
            /** Format: uuid */
            id: string;
            /** @constant */
            type: "live.deployment.v1";
            version: number;
            /** Format: date-time */
            occurredAt: string;
            correlationId: string;
            data: {
                pipelineId: number;
                appId: number;
                attempt: number;
                deployId: string | null;
                /** @enum {string} */
                state: "STARTED" | "WAITING_OPS" | "FINISHED";
                outcome: ("SUCCESS" | "FAILED" | "TIMEOUT" | "CANCELLED") | null;
                message: string | null;
            };
        };
        /** @enum {string} */
        DeployStatus: "PENDING" | "WAITING_OPS" | "DEPLOYING" | "DEPLOY_SUCCESS" | "DEPLOY_FAILED" | "DEPLOY_TIMEOUT" | "DEPLOY_CANCELLED";
        /** @enum {string} */
        DevMode: "low-code" | "pro-code";
        /** @enum {string} */
        DriveMode: "MANUAL" | "AUTO" | "ASYNC";
        /**
         * @description Every error answer: a non-zero code with the HTTP status it belongs to.
         * @example {
         *       "code": 1001,
         *       "message": "name: must be 1-100 characters",
         *       "data": {
         *         "fields": [
         *           {
         *             "field": "name",
         *             "message": "must be 1-100 characters"
         *           }
         *         ]
         *       }
         *     }
         */
        ErrorEnvelope: {
            /** @description The error code (docs/errors.md) */
            code: number;
            /** @description What is wrong, naming the field for 1001 */
            message: string;
            /** @description null, or details such as `{ fields: [{ field, message }] }` for 1001 */
            data: {
                [key: string]: unknown;
            } | null;
        };
        /** @description A branch or tag and its commit */
        GitRef: {
            name: string;
            commitId: string;
        };
        /** @description Branches or tags, live or from the cache when the provider is down */
        GitRefList: {
            items: components["schemas"]["GitRef"][];
            /** @description true: the provider is down and this is the cached copy */
            stale: boolean;
            /** Format: date-time */
            fetchedAt: string;
            /** @description What to do when stale (retry later) */
            message: string | null;
        };
        /** @enum {string} */
        GitType: "GITLAB" | "GITHUB" | "GITEE" | "LOCAL";
        /**
         * @description An iteration and its progress
         * @example {
         *       "id": 456,
         *       "appId": 123,
         *       "name": "v1.0.0",
         *       "status": "DRAFT",
         *       "sourceBranch": "main",
         *       "currentPhase": null,
         *       "headCommit": "abc123",
         *       "iterationPipelineId": null,
         *       "phasePipelineId": null,
         *       "phases": [],
         *       "createdBy": "alice",
         *       "createdAt": "2026-02-27T10:00:00Z",
         *       "updatedAt": "2026-02-27T10:00:00Z"
         *     }
         */
        Iteration: {
            id: number;
            appId: number;
            name: string;
            status: components["schemas"]["IterationStatus"];
            sourceBranch: string;
            /** @description The iteration pipeline's state */
            currentPhase: components["schemas"]["IterationMachineState"] | null;
            /** @description The source branch's head as last seen */
            headCommit: string | null;
            iterationPipelineId: number | null;
            /** @description The latest release's pipeline */
            phasePipelineId: number | null;
            /** @description Its releases, oldest first */
            phases: components["schemas"]["IterationPhaseRecord"][];
            createdBy: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
        };
        /** @description An iteration was created or changed (status, phase, its release's pipeline, the head of its branch), in the transaction of the change. */
        IterationEvent: {
            /** Format: uuid */
            id: string;
            /** @constant */
            type: "live.iteration.v1";
            version: number;
            /** Format: date-time */
            occurredAt: string;
            correlationId: string;
            data: {
                iterationId: number;
                appId: number;
                status: components["schemas"]["IterationStatus"];
                currentPhase: components["schemas"]["IterationMachineState"] | null;
                phasePipelineId: number | null;
                headCommit: string | null;
            };
        };
        /** @enum {string} */
        IterationMachineState: "PENDING" | "DEVELOPING" | "TESTING" | "STAGING" | "RELEASE" | "RELEASED" | "CANCELLED";
        /** @description A page of Iteration items */
        IterationPage: {
            items: components["schemas"]["Iteration"][];
            /** @description Items matching the query, all pages together */
            total: number;
            /** @description The page number asked for (1 with a cursor) */
            page: number;
            pageSize: number;
            /** @description The cursor of the next page (query parameter cursor), null on the last page */
            nextCursor: string | null;
        };
        /** @enum {string} */
        IterationPhase: "DEVELOPING" | "TESTING" | "STAGING" | "RELEASE";
        /** @description One release of an iteration (an iteration_phase row) */
        IterationPhaseRecord: {
            id: number;
            phaseType: components["schemas"]["IterationPhase"];
            branch: string | null;
            tag: string | null;
            commitId: string | null;
            status: components["schemas"]["IterationPhaseStatus"];
            /** @description The phase pipeline of this release */
            pipelineId: number | null;
            /** @description Whether this release deployed an older tag again */
            rollback: boolean;
            /** @description Why the release failed or was refused, else null */
            reason: string | null;
            /** Format: date-time */
            createdAt: string;
        };
        /**
         * @description The iteration phases an app uses, in order; RELEASE is always there
         * @example [
         *       "DEVELOPING",
         *       "TESTING",
         *       "STAGING",
         *       "RELEASE"
         *     ]
         * @example [
         *       "RELEASE"
         *     ]
         */
        IterationPhases: components["schemas"]["IterationPhase"][];
        /**
         * @description The iteration phases an app uses, in order; RELEASE is always there
         * @example [
         *       "DEVELOPING",
         *       "TESTING",
         *       "STAGING",
         *       "RELEASE"
         *     ]
         * @example [
         *       "RELEASE"
         *     ]
         */
        IterationPhasesInput: components["schemas"]["IterationPhase"][];
        /** @enum {string} */
        IterationPhaseStatus: "PENDING" | "RUNNING" | "SUCCESS" | "FAILED" | "CANCELLED";
        /** @enum {string} */
        IterationStatus: "DRAFT" | "DEVELOPING" | "TESTING" | "STAGING" | "RELEASING" | "RELEASED" | "FAILED";
        /** @description A line was added to a stage attempt's log (dev-svc: CODE_CHECK, BUILD, PACKAGE; ops-gateway: DEPLOY), in the transaction that stored it. */
        LogEvent: {
            /** Format: uuid */
            id: string;
            /** @constant */
            type: "live.log.v1";
            version: number;
            /** Format: date-time */
            occurredAt: string;
            correlationId: string;
            data: {
                pipelineId: number;
                appId: number;
                stage: components["schemas"]["PhaseStage"];
                /** @description The stage attempt (1 for the first) */
                attempt: number;
                /** @description Position in the attempt's log, from 1, without gaps */
                seq: number;
                /** Format: date-time */
                at: string;
                level: components["schemas"]["StageLogLevel"];
                text: string;
            };
        };
        /**
         * @description A notification subscription (its secret is never shown again after creation)
         * @example {
         *       "id": 7,
         *       "appId": 123,
         *       "url": "https://hooks.example.com/procode",
         *       "eventTypes": [
         *         "pipeline.failed",
         *         "deployment.succeeded"
         *       ],
         *       "createdBy": "alice",
         *       "createdAt": "2026-02-27T10:00:00Z"
         *     }
         */
        Notification: {
            id: number;
            appId: number;
            /** Format: uri */
            url: string;
            eventTypes: components["schemas"]["NotificationEventType"][];
            createdBy: string;
            /** Format: date-time */
            createdAt: string;
        };
        /** @description One event's delivery to a subscription */
        NotificationDelivery: {
            /** @description The webhook-id header of every attempt (a receiver dedupes on it) */
            id: string;
            eventType: components["schemas"]["NotificationEventType"];
            /** @description The platform event the delivery is for */
            eventId: string;
            status: components["schemas"]["NotificationDeliveryStatus"];
            attempts: number;
            /** @description The HTTP status of the last attempt */
            lastStatusCode: number | null;
            /** @description Why the last attempt did not deliver (refused, timed out, not 2xx) */
            lastError: string | null;
            lastAttemptAt: string | null;
            /** @description When the next attempt is due (PENDING only) */
            nextAttemptAt: string | null;
            deliveredAt: string | null;
            /** Format: date-time */
            createdAt: string;
        };
        /** @description A notification delivery was written or attempted (delivered, to be retried, or failed for good), in the transaction of the change. */
        NotificationDeliveryEvent: {
            /** Format: uuid */
            id: string;
            /** @constant */
            type: "live.notification_delivery.v1";
            version: number;
            /** Format: date-time */
            occurredAt: string;
            correlationId: string;
            data: {
                appId: number;
                subscriptionId: number;
                deliveryId: string;
                status: components["schemas"]["NotificationDeliveryStatus"];
                attempts: number;
            };
        };
        /** @description A page of NotificationDelivery items */
        NotificationDeliveryPage: {
            items: components["schemas"]["NotificationDelivery"][];
            /** @description Items matching the query, all pages together */
            total: number;
            page: number;
            pageSize: number;
        };
        /** @enum {string} */
        NotificationDeliveryStatus: "PENDING" | "DELIVERED" | "FAILED";
        /**
         * @description A kind of event a notification subscription can ask for
         * @enum {string}
         */
        NotificationEventType: "pipeline.started" | "pipeline.succeeded" | "pipeline.failed" | "pipeline.cancelled" | "deployment.succeeded" | "deployment.failed" | "iteration.waiting" | "iteration.released";
        /** @description A page of Notification items */
        NotificationPage: {
            items: components["schemas"]["Notification"][];
            /** @description Items matching the query, all pages together */
            total: number;
            page: number;
            pageSize: number;
        };
        /** @enum {string} */
        PhaseStage: "CODE_CHECK" | "BUILD" | "PACKAGE" | "QUALITY_GATE" | "DEPLOY";
        /**
         * @description An app's settings per stage, over the defaults
         * @example {
         *       "PACKAGE": {
         *         "driveMode": "MANUAL"
         *       }
         *     }
         */
        PhaseStageConfigOverrides: {
            [key: string]: components["schemas"]["StageConfigOverride"];
        };
        /**
         * @description Per stage, the settings to change (merged field by field); a stage set to null returns to the defaults
         * @example {
         *       "PACKAGE": {
         *         "driveMode": "MANUAL"
         *       }
         *     }
         * @example {
         *       "BUILD": null
         *     }
         */
        PhaseStageConfigPatch: {
            [key: string]: components["schemas"]["StageConfigPatch"] | null;
        };
        /** @description Every stage of a phase pipeline with its configuration */
        PhaseStageConfigs: {
            CODE_CHECK: components["schemas"]["StageConfig"];
            BUILD: components["schemas"]["StageConfig"];
            PACKAGE: components["schemas"]["StageConfig"];
            QUALITY_GATE: components["schemas"]["StageConfig"];
            DEPLOY: components["schemas"]["StageConfig"];
        };
        /**
         * @description A pipeline with its checkpoints
         * @example {
         *       "id": 789,
         *       "type": "PHASE",
         *       "parentId": 888,
         *       "refId": 456,
         *       "status": "RUNNING",
         *       "currentStage": "DEPLOY",
         *       "deployStatus": "DEPLOYING",
         *       "checkpoints": [
         *         {
         *           "stage": "CODE_CHECK",
         *           "status": "SUCCESS",
         *           "attempt": 1,
         *           "output": {
         *             "commitId": "abc123"
         *           },
         *           "error": null,
         *           "startedAt": "2026-02-27T10:00:00Z",
         *           "finishedAt": "2026-02-27T10:01:00Z"
         *         },
         *         {
         *           "stage": "BUILD",
         *           "status": "SUCCESS",
         *           "attempt": 1,
         *           "output": {
         *             "dockerfile": "..."
         *           },
         *           "error": null,
         *           "startedAt": "2026-02-27T10:01:00Z",
         *           "finishedAt": "2026-02-27T10:02:00Z"
         *         },
         *         {
         *           "stage": "PACKAGE",
         *           "status": "SUCCESS",
         *           "attempt": 1,
         *           "output": {
         *             "image": "registry/xxx:v1.0.0"
         *           },
         *           "error": null,
         *           "startedAt": "2026-02-27T10:02:00Z",
         *           "finishedAt": "2026-02-27T10:04:00Z"
         *         }
         *       ],
         *       "createdAt": "2026-02-27T10:00:00Z",
         *       "updatedAt": "2026-02-27T10:05:00Z",
         *       "state": "DEPLOYING",
         *       "appId": 123,
         *       "iterationId": 456,
         *       "deployId": "deploy-xxx",
         *       "currentRetries": 0,
         *       "stageConfigs": {
         *         "CODE_CHECK": {
         *           "driveMode": "AUTO",
         *           "retryMode": "AUTO",
         *           "maxRetries": 3
         *         },
         *         "BUILD": {
         *           "driveMode": "AUTO",
         *           "retryMode": "AUTO",
         *           "maxRetries": 2
         *         },
         *         "PACKAGE": {
         *           "driveMode": "AUTO",
         *           "retryMode": "MANUAL",
         *           "maxRetries": 0
         *         },
         *         "DEPLOY": {
         *           "driveMode": "ASYNC",
         *           "retryMode": "MANUAL",
         *           "maxRetries": 0,
         *           "pollInterval": 30,
         *           "pollTimeout": 1800
         *         }
         *       },
         *       "tag": "v1.0.0",
         *       "rollback": false,
         *       "awaiting": null,
         *       "queued": false
         *     }
         */
        Pipeline: {
            id: number;
            type: components["schemas"]["PipelineType"];
            /** @description The iteration pipeline of a PHASE pipeline */
            parentId: number | null;
            /** @description ITERATION: the iteration's id; PHASE: the iteration phase (release) id */
            refId: number;
            status: components["schemas"]["PipelineStatus"];
            currentStage: components["schemas"]["StageName"] | null;
            deployStatus: components["schemas"]["DeployStatus"] | null;
            /** @description Every stage attempt, oldest first */
            checkpoints: components["schemas"]["Checkpoint"][];
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            /** @description The machine state (e.g. DEPLOYING); status is its coarse form */
            state: components["schemas"]["PipelineState"];
            appId: number;
            iterationId: number;
            deployId: string | null;
            /** @description Retries of the current or failed stage so far */
            currentRetries: number;
            /** @description The configuration of each stage of this pipeline */
            stageConfigs: {
                [key: string]: components["schemas"]["StageConfig"];
            };
            tag: string | null;
            rollback: boolean;
            awaiting: components["schemas"]["Awaiting"] | null;
            /** @description Waiting behind another release of the app */
            queued: boolean;
        };
        /**
         * @description Optional: a pipeline action needs no body
         * @example {
         *       "reason": "hotfix approved by the release manager"
         *     }
         */
        PipelineActionRequest: {
            /** @description Recorded with the action (and the checkpoint it ends, for cancel) */
            reason?: string;
        };
        /** @description A pipeline of either type changed (state, stage, attempt, deploy status, failure or what it waits for); its summary, in the transaction of the change. */
        PipelineEvent: {
            /** Format: uuid */
            id: string;
            /** @constant */
            type: "live.pipeline.v1";
            version: number;
            /** Format: date-time */
            occurredAt: string;
            correlationId: string;
            data: {
                pipelineId: number;
                appId: number;
                iterationId: number;
                kind: components["schemas"]["PipelineType"];
                status: components["schemas"]["PipelineStatus"];
                state: components["schemas"]["PipelineState"];
                stage: components["schemas"]["StageName"] | null;
                deployStatus: components["schemas"]["DeployStatus"] | null;
                attempt: number;
                failedStage: components["schemas"]["PhaseStage"] | null;
                error: string | null;
                awaiting: ("PROCEED" | "RETRY_OR_RESUME") | null;
                waiting?: string | null;
            };
        };
        /** @description A page of Pipeline items */
        PipelinePage: {
            items: components["schemas"]["Pipeline"][];
            /** @description Items matching the query, all pages together */
            total: number;
            page: number;
            pageSize: number;
        };
        /** @enum {string} */
        PipelineState: "PENDING" | "DEVELOPING" | "TESTING" | "STAGING" | "RELEASE" | "RELEASED" | "CANCELLED" | "RUNNING" | "CODE_CHECK" | "BUILD" | "PACKAGE" | "QUALITY_GATE" | "DEPLOY" | "DEPLOYING" | "SUCCESS" | "FAILED";
        /** @enum {string} */
        PipelineStatus: "PENDING" | "RUNNING" | "SUCCESS" | "FAILED" | "CANCELLED";
        /** @enum {string} */
        PipelineType: "ITERATION" | "PHASE";
        /**
         * @description The body of POST /iterations/{id}/proceed
         * @example {
         *       "targetPhase": "TESTING"
         *     }
         * @example {
         *       "targetPhase": "RELEASE",
         *       "tag": "v1.0.0"
         *     }
         */
        ProceedIterationRequest: {
            /**
             * @description The next phase of the app's phases; any other value is refused with 2002
             * @enum {string}
             */
            targetPhase: "TESTING" | "STAGING" | "RELEASE";
            /**
             * @description Required when targetPhase is RELEASE (else 2003)
             * @example v1.0.0
             */
            tag?: string;
        };
        /**
         * @description The answer of POST /iterations/{id}/proceed
         * @example {
         *       "iterationId": 456,
         *       "currentPhase": "RELEASE",
         *       "phasePipelineId": 789
         *     }
         */
        ProceedIterationResponse: {
            iterationId: number;
            currentPhase: components["schemas"]["IterationMachineState"];
            phasePipelineId: number | null;
        };
        /**
         * @description The answer of POST /pipelines/{id}/proceed
         * @example {
         *       "pipelineId": 789,
         *       "previousStage": "PACKAGE",
         *       "currentStage": "DEPLOY"
         *     }
         */
        ProceedPipelineResponse: {
            pipelineId: number;
            previousStage: components["schemas"]["StageName"];
            currentStage: components["schemas"]["StageName"];
        };
        /**
         * @description A pro-code app's repository and pipeline settings (never its webhook secret)
         * @example {
         *       "appId": 123,
         *       "gitRepoUrl": "https://gitlab.example.com/my-agent.git",
         *       "gitType": "GITLAB",
         *       "scaffoldTemplate": null,
         *       "credentialId": "cred-1",
         *       "credentialRequired": true,
         *       "webhookUrl": "https://platform.example.com/webhooks/gitlab/123",
         *       "stageConfigs": {},
         *       "effectiveStageConfigs": {
         *         "CODE_CHECK": {
         *           "driveMode": "AUTO",
         *           "retryMode": "AUTO",
         *           "maxRetries": 3
         *         },
         *         "BUILD": {
         *           "driveMode": "AUTO",
         *           "retryMode": "AUTO",
         *           "maxRetries": 2
         *         },
         *         "PACKAGE": {
         *           "driveMode": "AUTO",
         *           "retryMode": "MANUAL",
         *           "maxRetries": 0
         *         },
         *         "DEPLOY": {
         *           "driveMode": "ASYNC",
         *           "retryMode": "MANUAL",
         *           "maxRetries": 0,
         *           "pollInterval": 30,
         *           "pollTimeout": 1800
         *         }
         *       },
         *       "phases": [
         *         "DEVELOPING",
         *         "TESTING",
         *         "STAGING",
         *         "RELEASE"
         *       ],
         *       "concurrency": "QUEUE",
         *       "deployConfig": {
         *         "env": {},
         *         "resources": {
         *           "cpu": "1",
         *           "memory": "2Gi"
         *         }
         *       },
         *       "updatedAt": "2026-02-27T10:00:00Z"
         *     }
         */
        ProcodeConfig: {
            appId: number;
            /** Format: uri */
            gitRepoUrl: string;
            gitType: components["schemas"]["GitType"];
            scaffoldTemplate: string | null;
            credentialId: string | null;
            /** @description Whether the repository refused anonymous reads when it was probed */
            credentialRequired: boolean;
            /**
             * Format: uri
             * @description Where the provider sends pushes (POST /webhooks/{gitType}/{appId})
             */
            webhookUrl: string;
            stageConfigs: components["schemas"]["PhaseStageConfigOverrides"];
            /** @description The defaults with the app's settings applied */
            effectiveStageConfigs: components["schemas"]["PhaseStageConfigs"];
            phases: components["schemas"]["IterationPhases"];
            /** @description What a second release of the app does while one runs */
            concurrency: components["schemas"]["ConcurrencyPolicy"];
            deployConfig: components["schemas"]["DeployConfig"];
            /** Format: date-time */
            updatedAt: string;
        };
        /**
         * @description What to change; every field left out keeps its value
         * @example {
         *       "gitRepoUrl": "https://gitlab.example.com/my-agent.git",
         *       "credentialId": "cred-1"
         *     }
         * @example {
         *       "stageConfigs": {
         *         "PACKAGE": {
         *           "driveMode": "MANUAL"
         *         }
         *       }
         *     }
         */
        PutProcodeConfigRequest: {
            /**
             * Format: uri
             * @description Left out: the repository stays
             * @example https://gitlab.example.com/my-agent.git
             * @example local://sample-agent
             */
            gitRepoUrl?: string;
            scaffoldTemplate?: components["schemas"]["ScaffoldTemplateName"] | null;
            /** @description A credential of the team; required for GITLAB, GITHUB and GITEE repositories, not for LOCAL (null removes it there) */
            credentialId?: string | null;
            /** @description Detected from the URL when left out */
            gitType?: components["schemas"]["GitType"];
            /** @description Merged per stage and field; null returns every stage to the defaults */
            stageConfigs?: components["schemas"]["PhaseStageConfigPatch"] | null;
            phases?: components["schemas"]["IterationPhasesInput"];
            concurrency?: components["schemas"]["ConcurrencyPolicy"];
            deployConfig?: components["schemas"]["DeployConfigPatch"];
        };
        QualityCase: {
            id: string;
            tags: string[];
            input: unknown;
            output: unknown;
            pass: boolean;
            errored: boolean;
            score: number;
            runsPassed: number;
            runs: number;
            failed: {
                type: string;
                reason: string;
            }[];
            error: string | null;
        };
        /** @description One gate run with its cases */
        QualityReport: {
            id: number;
            appId: number;
            pipelineId: number;
            attempt: number;
            iterationPhaseId: number | null;
            tag: string;
            commitId: string | null;
            verdict: components["schemas"]["QualityVerdict"];
            passRate: number;
            interval: {
                low: number;
                high: number;
            };
            passed: number;
            total: number;
            unitTests: components["schemas"]["QualityUnitTests"] | null;
            executor: string;
            baseline: {
                reportId: number;
                tag: string;
            } | null;
            waiver: components["schemas"]["QualityWaiver"] | null;
            durationMs: number;
            /** Format: date-time */
            createdAt: string;
            reasons: string[];
            problems: string[];
            byTag: {
                [key: string]: {
                    passed: number;
                    total: number;
                };
            };
            newlyFailing: components["schemas"]["QualityCase"][];
            newlyPassing: components["schemas"]["QualityCase"][];
            missing: components["schemas"]["QualityCase"][];
            failing: components["schemas"]["QualityCase"][];
            latency: {
                p50Ms: number;
                p95Ms: number;
                calls: number;
            };
            settings: {
                minPassRate: number;
                requiredTags: string[];
                maxNewlyFailing: number;
                maxPassRateDrop: number;
                caseTimeoutMs: number;
                concurrency: number;
                testTimeoutMs: number;
                startTimeoutMs: number;
            } | null;
        };
        /** @description One gate run in an app's quality history */
        QualityReportItem: {
            id: number;
            appId: number;
            pipelineId: number;
            attempt: number;
            iterationPhaseId: number | null;
            tag: string;
            commitId: string | null;
            verdict: components["schemas"]["QualityVerdict"];
            passRate: number;
            interval: {
                low: number;
                high: number;
            };
            passed: number;
            total: number;
            unitTests: components["schemas"]["QualityUnitTests"] | null;
            executor: string;
            baseline: {
                reportId: number;
                tag: string;
            } | null;
            waiver: components["schemas"]["QualityWaiver"] | null;
            durationMs: number;
            /** Format: date-time */
            createdAt: string;
            newlyFailingCount: number;
        };
        /** @description A page of QualityReportItem items */
        QualityReportItemPage: {
            items: components["schemas"]["QualityReportItem"][];
            /** @description Items matching the query, all pages together */
            total: number;
            page: number;
            pageSize: number;
        };
        QualityUnitTests: {
            ran: number;
            failed: number;
            error: string | null;
            output?: string;
        };
        /**
         * @description The gate's verdict; WAIVED: blocked, then let through by a person
         * @enum {string}
         */
        QualityVerdict: "PASS" | "BLOCK" | "CONFIGURATION_ERROR" | "WAIVED";
        QualityWaiver: {
            by: string;
            reason: string;
            /** Format: date-time */
            at: string;
        };
        /**
         * @description The body of POST /iterations/{id}/release
         * @example {
         *       "tag": "v1.0.0"
         *     }
         */
        ReleaseRequest: {
            /**
             * @description 'v' followed by a semantic version
             * @example v1.0.0
             */
            tag: string;
        };
        /**
         * @description The answer of POST /iterations/{id}/release
         * @example {
         *       "iterationId": 456,
         *       "tag": "v1.0.0",
         *       "pipelineId": 789,
         *       "status": "RUNNING",
         *       "iterationPhaseId": 12,
         *       "commitId": "abc123",
         *       "rollback": false
         *     }
         */
        ReleaseResponse: {
            iterationId: number;
            tag: string;
            /** @description null (status PENDING) until pipeline-engine has answered */
            pipelineId: number | null;
            status: components["schemas"]["PipelineStatus"];
            iterationPhaseId: number;
            /** @description The commit the tag points at */
            commitId: string | null;
            /** @description Whether an older released tag is deployed again */
            rollback: boolean;
        };
        /** @description An app's repository and the state of its binding (webhook, scaffold) */
        RepoBinding: {
            appId: number;
            /** Format: uri */
            externalGitUrl: string;
            gitType: components["schemas"]["GitType"];
            credentialId: string | null;
            webhookUrl: string | null;
            /** @description The provider's id of the installed webhook */
            webhookId: string | null;
            state: components["schemas"]["RepoBindingState"];
            lastError: string | null;
            /** @description The scaffold push, for apps created with a scaffoldTemplate */
            scaffold: {
                state: components["schemas"]["ScaffoldState"];
                message: string | null;
            };
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
        };
        /** @enum {string} */
        RepoBindingState: "PENDING" | "BOUND" | "NEEDS_CREDENTIAL" | "ERROR";
        /** @description An app's repository binding was created or changed (desired binding, binding outcome, scaffold state); its state, in the transaction of the change. */
        RepositoryEvent: {
            /** Format: uuid */
            id: string;
            /** @constant */
            type: "live.repository.v1";
            version: number;
            /** Format: date-time */
            occurredAt: string;
            correlationId: string;
            data: {
                appId: number;
                state: components["schemas"]["RepoBindingState"];
                lastError: string | null;
                scaffoldState: components["schemas"]["ScaffoldState"];
            };
        };
        /**
         * @description The answer of POST /pipelines/{id}/resume
         * @example {
         *       "pipelineId": 789,
         *       "status": "RUNNING",
         *       "resumeFromStage": "DEPLOY"
         *     }
         */
        ResumePipelineResponse: {
            pipelineId: number;
            status: components["schemas"]["PipelineStatus"];
            resumeFromStage: components["schemas"]["PhaseStage"];
        };
        /** @enum {string} */
        RetryMode: "AUTO" | "MANUAL";
        /**
         * @description The answer of POST /pipelines/{id}/retry
         * @example {
         *       "pipelineId": 789,
         *       "currentStage": "BUILD",
         *       "retryCount": 2,
         *       "maxRetries": 3
         *     }
         */
        RetryPipelineResponse: {
            pipelineId: number;
            currentStage: components["schemas"]["PhaseStage"];
            retryCount: number;
            maxRetries: number;
        };
        /** @enum {string} */
        ScaffoldState: "NOT_REQUESTED" | "PENDING" | "PUSHED" | "SKIPPED_NOT_EMPTY" | "FAILED";
        /**
         * @description A scaffold template the platform pushes to an empty repository
         * @enum {string}
         */
        ScaffoldTemplateName: "python-agent";
        /**
         * @description How one stage runs (its StageConfig)
         * @example {
         *       "driveMode": "ASYNC",
         *       "retryMode": "MANUAL",
         *       "maxRetries": 0,
         *       "pollInterval": 30,
         *       "pollTimeout": 1800
         *     }
         */
        StageConfig: {
            /** @description AUTO: success moves on at once; MANUAL: waits for proceed; ASYNC: finished by an outside system */
            driveMode: components["schemas"]["DriveMode"];
            /** @description AUTO: the engine retries a failure; MANUAL: it waits for a person */
            retryMode: components["schemas"]["RetryMode"];
            /** @description Retries of a failed attempt */
            maxRetries: number;
            /** @description Seconds (ASYNC) */
            pollInterval?: number;
            /** @description Seconds before an ASYNC stage times out */
            pollTimeout?: number;
            /** @description QUALITY_GATE only: true runs it, false never; left out, it runs when the release commit has evals/*.jsonl */
            enabled?: boolean;
            /** @description QUALITY_GATE only: the gate's rules, under those of the repository's evals/gate.json */
            gate?: {
                minPassRate?: number;
                requiredTags?: string[];
                maxNewlyFailing?: number;
                maxPassRateDrop?: number;
                caseTimeoutMs?: number;
                concurrency?: number;
                testTimeoutMs?: number;
                startTimeoutMs?: number;
            };
            /**
             * Format: uri
             * @description QUALITY_GATE: the judge of llm-rubric assertions (an OpenAI-compatible base URL)
             */
            judgeUrl?: string;
        };
        /** @description Fields of a StageConfig set for one stage */
        StageConfigOverride: {
            /** @description AUTO: success moves on at once; MANUAL: waits for proceed; ASYNC: finished by an outside system */
            driveMode?: components["schemas"]["DriveMode"];
            /** @description AUTO: the engine retries a failure; MANUAL: it waits for a person */
            retryMode?: components["schemas"]["RetryMode"];
            /** @description Retries of a failed attempt */
            maxRetries?: number;
            /** @description Seconds (ASYNC) */
            pollInterval?: number;
            /** @description Seconds before an ASYNC stage times out */
            pollTimeout?: number;
            /** @description QUALITY_GATE only: true runs it, false never; left out, it runs when the release commit has evals/*.jsonl */
            enabled?: boolean;
            /** @description QUALITY_GATE only: the gate's rules, under those of the repository's evals/gate.json */
            gate?: {
                minPassRate?: number;
                requiredTags?: string[];
                maxNewlyFailing?: number;
                maxPassRateDrop?: number;
                caseTimeoutMs?: number;
                concurrency?: number;
                testTimeoutMs?: number;
                startTimeoutMs?: number;
            };
            /**
             * Format: uri
             * @description QUALITY_GATE: the judge of llm-rubric assertions (an OpenAI-compatible base URL)
             */
            judgeUrl?: string;
        };
        /**
         * @description Settings of one stage to change; a field left out keeps its value, null returns it to the default
         * @example {
         *       "driveMode": "MANUAL"
         *     }
         * @example {
         *       "maxRetries": null
         *     }
         */
        StageConfigPatch: {
            driveMode?: components["schemas"]["DriveMode"] | null;
            retryMode?: components["schemas"]["RetryMode"] | null;
            maxRetries?: number | null;
            pollInterval?: number | null;
            pollTimeout?: number | null;
            enabled?: boolean | null;
            gate?: {
                minPassRate?: number;
                requiredTags?: string[];
                maxNewlyFailing?: number;
                maxPassRateDrop?: number;
                caseTimeoutMs?: number;
                concurrency?: number;
                testTimeoutMs?: number;
                startTimeoutMs?: number;
            } | null;
            judgeUrl?: string | null;
        };
        /** @enum {string} */
        StageLogLevel: "INFO" | "WARN" | "ERROR";
        /**
         * @description One line of a stage attempt's log
         * @example {
         *       "stage": "CODE_CHECK",
         *       "attempt": 1,
         *       "seq": 1,
         *       "at": "2026-02-27T10:00:00Z",
         *       "level": "INFO",
         *       "text": "resolving tag v1.0.0 in local://demo"
         *     }
         */
        StageLogLine: {
            stage: components["schemas"]["PhaseStage"];
            /** @description The stage attempt (1 for the first) */
            attempt: number;
            /** @description Position in the attempt's log, from 1, without gaps */
            seq: number;
            /** Format: date-time */
            at: string;
            level: components["schemas"]["StageLogLevel"];
            text: string;
        };
        /** @description The stage logs of a phase pipeline */
        StageLogs: {
            pipelineId: number;
            /** @description In stage order (CODE_CHECK, BUILD, PACKAGE, DEPLOY), attempt, seq */
            lines: components["schemas"]["StageLogLine"][];
            /** @description An attempt among these reached 1 MiB of text: its last line says it was cut */
            truncated: boolean;
        };
        /** @enum {string} */
        StageName: "DEVELOPING" | "TESTING" | "STAGING" | "RELEASE" | "CODE_CHECK" | "BUILD" | "PACKAGE" | "QUALITY_GATE" | "DEPLOY";
        /** @enum {string} */
        TechStack: "python";
        /** @description A delivery stored for processing */
        WebhookAck: {
            deliveryId: string;
            /** @description true: this delivery was received before and is ignored */
            duplicate: boolean;
        };
        /** @description A webhook delivery as received (never a secret or signature) */
        WebhookDelivery: {
            deliveryId: string;
            gitType: components["schemas"]["GitType"];
            event: string | null;
            status: components["schemas"]["WebhookDeliveryStatus"];
            /** @description Why it was refused, ignored or failed */
            reason: string | null;
            /** Format: date-time */
            receivedAt: string;
        };
        /** @description A repository webhook delivery was recorded (queued or refused) or processed (recorded, ignored, failed, or put back for a retry), in the transaction of the change. */
        WebhookDeliveryEvent: {
            /** Format: uuid */
            id: string;
            /** @constant */
            type: "live.webhook_delivery.v1";
            version: number;
            /** Format: date-time */
            occurredAt: string;
            correlationId: string;
            data: {
                appId: number;
                deliveryId: string;
                status: components["schemas"]["WebhookDeliveryStatus"];
                reason: string | null;
            };
        };
        /** @description A page of WebhookDelivery items */
        WebhookDeliveryPage: {
            items: components["schemas"]["WebhookDelivery"][];
            /** @description Items matching the query, all pages together */
            total: number;
            page: number;
            pageSize: number;
        };
        /** @enum {string} */
        WebhookDeliveryStatus: "RECEIVED" | "PROCESSED" | "IGNORED" | "FAILED" | "REJECTED";
        /** @description A WebIDE link, or the clone URL and a local-IDE hint */
        WebIdeLink: {
            available: boolean;
            /** @description The WebIDE link; null when the WebIDE is not available */
            url: string | null;
            cloneUrl: string;
            branch: string;
            /** @description How to work locally when the WebIDE is not there */
            hint: string | null;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    listApps: {
        parameters: {
            query?: {
                /** @description Page number, from 1 */
                page?: number;
                /** @description Items per page, 1-100 */
                pageSize?: number;
                devMode?: components["schemas"]["DevMode"];
                /** @description Only apps whose name contains this (case-insensitive) */
                name?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["AppPage"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    createApp: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Makes the create safe to retry: a repeat within 24 h with the same key (per team) returns the first answer (with `Idempotent-Replayed: true`) and creates nothing; the same key with a different body is 9010 (422).
                 * @example 7f9c2ba4-e88f-4c6a-9e11-0c8a3b1d2e4f
                 */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateAppRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["App"];
                    };
                };
            };
            /** @description 1001 invalid parameter; 1003 git repository not reachable */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001 | 1003;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1002 app name already exists; 9011 a request with this Idempotency-Key is still being answered; retry */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1002 | 9011;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9010 Idempotency-Key already used with a different request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9010;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    getApp: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["App"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    listAppIterations: {
        parameters: {
            query?: {
                /** @description Page number, from 1 */
                page?: number;
                /** @description Items per page, 1-100 */
                pageSize?: number;
                status?: components["schemas"]["IterationStatus"];
                /** @description Keyset paging: the nextCursor of the page before; the page starts after its last iteration (pageSize and status as before, page not given) */
                cursor?: string;
            };
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["IterationPage"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    listNotifications: {
        parameters: {
            query?: {
                /** @description Page number, from 1 */
                page?: number;
                /** @description Items per page, 1-100 */
                pageSize?: number;
            };
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["NotificationPage"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    createNotification: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateNotificationRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["CreatedNotification"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004;
                    };
                };
            };
            /** @description 1010 the app has as many notification subscriptions as it may have */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1010;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    deleteNotification: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
                /** @description The subscription's id */
                subscriptionId: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["DeletedNotification"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found; 1009 notification subscription not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004 | 1009;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    listNotificationDeliveries: {
        parameters: {
            query?: {
                /** @description Page number, from 1 */
                page?: number;
                /** @description Items per page, 1-100 */
                pageSize?: number;
                status?: components["schemas"]["NotificationDeliveryStatus"];
            };
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
                /** @description The subscription's id */
                subscriptionId: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["NotificationDeliveryPage"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found; 1009 notification subscription not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004 | 1009;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    putProcodeConfig: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PutProcodeConfigRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["ProcodeConfig"];
                    };
                };
            };
            /** @description 1001 invalid parameter; 1003 git repository not reachable */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001 | 1003;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    listAppQualityReports: {
        parameters: {
            query?: {
                /** @description Page number, from 1 */
                page?: number;
                /** @description Items per page, 1-100 */
                pageSize?: number;
            };
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["QualityReportItemPage"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    getAppQualityReport: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
                /** @description The report's id */
                reportId: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["QualityReport"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found; 1011 quality gate report not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004 | 1011;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    getRepoBinding: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["RepoBinding"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004;
                    };
                };
            };
            /** @description 1005 the app has no repository binding yet */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    listBranches: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["GitRefList"];
                    };
                };
            };
            /** @description 1001 invalid parameter; 1003 git repository not reachable */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001 | 1003;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found; 1008 branch, tag, commit or file not found in the repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004 | 1008;
                    };
                };
            };
            /** @description 1005 the app has no repository binding yet */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 1007 git provider rejected the request */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1007;
                    };
                };
            };
            /** @description 1006 git provider unavailable; 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1006 | 9003;
                    };
                };
            };
        };
    };
    listTags: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["GitRefList"];
                    };
                };
            };
            /** @description 1001 invalid parameter; 1003 git repository not reachable */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001 | 1003;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found; 1008 branch, tag, commit or file not found in the repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004 | 1008;
                    };
                };
            };
            /** @description 1005 the app has no repository binding yet */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 1007 git provider rejected the request */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1007;
                    };
                };
            };
            /** @description 1006 git provider unavailable; 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1006 | 9003;
                    };
                };
            };
        };
    };
    listWebhookDeliveries: {
        parameters: {
            query?: {
                /** @description Page number, from 1 */
                page?: number;
                /** @description Items per page, 1-100 */
                pageSize?: number;
            };
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["WebhookDeliveryPage"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    getWebIdeLink: {
        parameters: {
            query?: {
                /** @description The branch to open (the default branch when left out) */
                branch?: string;
            };
            header?: never;
            path: {
                /** @description The app's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["WebIdeLink"];
                    };
                };
            };
            /** @description 1001 invalid parameter; 1003 git repository not reachable */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001 | 1003;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found; 1008 branch, tag, commit or file not found in the repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004 | 1008;
                    };
                };
            };
            /** @description 1005 the app has no repository binding yet */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 1007 git provider rejected the request */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1007;
                    };
                };
            };
            /** @description 1006 git provider unavailable; 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1006 | 9003;
                    };
                };
            };
        };
    };
    listCredentials: {
        parameters: {
            query?: {
                /** @description Page number, from 1 */
                page?: number;
                /** @description Items per page, 1-100 */
                pageSize?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["CredentialPage"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    createCredential: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Makes the create safe to retry: a repeat within 24 h with the same key (per team) returns the first answer (with `Idempotent-Replayed: true`) and creates nothing; the same key with a different body is 9010 (422).
                 * @example 7f9c2ba4-e88f-4c6a-9e11-0c8a3b1d2e4f
                 */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateCredentialRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["Credential"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 9011 a request with this Idempotency-Key is still being answered; retry */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9011;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9010 Idempotency-Key already used with a different request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9010;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    getCredential: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The credential's id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["Credential"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 5004 credential not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5004;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    deleteCredential: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The credential's id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["DeletedCredential"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 5004 credential not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5004;
                    };
                };
            };
            /** @description 5005 credential is bound to an app's repository */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    deployCallback: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeployCallback"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["DeployCallbackResponse"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5002 signature missing, invalid or stale */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5002;
                    };
                };
            };
            /** @description 4004 deployment not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 4004;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 5006 too many requests from this source on a public route; retry after the time given */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5006;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    streamEvents: {
        parameters: {
            query?: {
                /** @description Only events of this app */
                appId?: number;
                /** @description Only events of this pipeline, its log lines and deployments (and its iteration's, while it is the release's); no repository, app, webhook or notification events */
                pipelineId?: number;
                /** @description Comma-separated event names: pipeline, iteration, log, deployment, repository, app, webhook, notification (default: all) */
                types?: string;
                /** @description Resume after this event (as the Last-Event-ID header; the header wins) */
                lastEventId?: number;
            };
            header?: {
                /** @description Resume after this event (EventSource sends it when it reconnects) */
                "Last-Event-ID"?: number;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The event stream; each event's data is one of these */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": components["schemas"]["PipelineEvent"] | components["schemas"]["IterationEvent"] | components["schemas"]["LogEvent"] | components["schemas"]["DeploymentEvent"] | components["schemas"]["RepositoryEvent"] | components["schemas"]["AppEvent"] | components["schemas"]["WebhookDeliveryEvent"] | components["schemas"]["NotificationDeliveryEvent"];
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    createIteration: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Makes the create safe to retry: a repeat within 24 h with the same key (per team) returns the first answer (with `Idempotent-Replayed: true`) and creates nothing; the same key with a different body is 9010 (422).
                 * @example 7f9c2ba4-e88f-4c6a-9e11-0c8a3b1d2e4f
                 */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateIterationRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["Iteration"];
                    };
                };
            };
            /** @description 1001 invalid parameter; 1003 git repository not reachable */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001 | 1003;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found; 1008 branch, tag, commit or file not found in the repository; 5004 credential not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004 | 1008 | 5004;
                    };
                };
            };
            /** @description 1005 the app has no repository binding yet; 9011 a request with this Idempotency-Key is still being answered; retry */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1005 | 9011;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9010 Idempotency-Key already used with a different request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9010;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 1007 git provider rejected the request */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1007;
                    };
                };
            };
            /** @description 1006 git provider unavailable; 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1006 | 9003;
                    };
                };
            };
        };
    };
    getIteration: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The iteration's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["Iteration"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 2004 iteration not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 2004;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    proceedIteration: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The iteration's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ProceedIterationRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["ProceedIterationResponse"];
                    };
                };
            };
            /** @description Accepted: recorded; it completes when the service it waits for answers (code 0) */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["ProceedIterationResponse"];
                    };
                };
            };
            /** @description 1001 invalid parameter; 1003 git repository not reachable; 2002 invalid target phase */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001 | 1003 | 2002;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found; 1008 branch, tag, commit or file not found in the repository; 2004 iteration not found; 5004 credential not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004 | 1008 | 2004 | 5004;
                    };
                };
            };
            /** @description 1005 the app has no repository binding yet; 2001 iteration's current phase cannot proceed; 2003 precondition not met; 3005 another release of this app is running */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1005 | 2001 | 2003 | 3005;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 1007 git provider rejected the request */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1007;
                    };
                };
            };
            /** @description 1006 git provider unavailable; 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1006 | 9003;
                    };
                };
            };
        };
    };
    releaseIteration: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The iteration's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReleaseRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["ReleaseResponse"];
                    };
                };
            };
            /** @description Accepted: recorded; it completes when the service it waits for answers (code 0) */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["ReleaseResponse"];
                    };
                };
            };
            /** @description 1001 invalid parameter; 1003 git repository not reachable; 2002 invalid target phase */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001 | 1003 | 2002;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 1004 app not found; 1008 branch, tag, commit or file not found in the repository; 2004 iteration not found; 5004 credential not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1004 | 1008 | 2004 | 5004;
                    };
                };
            };
            /** @description 1005 the app has no repository binding yet; 2001 iteration's current phase cannot proceed; 2003 precondition not met; 3005 another release of this app is running */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1005 | 2001 | 2003 | 3005;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 1007 git provider rejected the request */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1007;
                    };
                };
            };
            /** @description 1006 git provider unavailable; 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1006 | 9003;
                    };
                };
            };
        };
    };
    listPipelines: {
        parameters: {
            query?: {
                /** @description Page number, from 1 */
                page?: number;
                /** @description Items per page, 1-100 */
                pageSize?: number;
                /** @description ITERATION: an iteration's id; PHASE: an iteration phase (release) id */
                refId?: number;
                /** @description Phase pipelines of this iteration pipeline */
                parentId?: number;
                /** @description Pipelines of this app */
                appId?: number;
                type?: components["schemas"]["PipelineType"];
                status?: components["schemas"]["PipelineStatus"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["PipelinePage"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    getPipeline: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The pipeline's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["Pipeline"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 3004 pipeline not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 3004;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    cancelPipeline: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The pipeline's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["PipelineActionRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["CancelPipelineResponse"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 3004 pipeline not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 3004;
                    };
                };
            };
            /** @description 3001 pipeline state does not allow this action */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 3001;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    getPipelineLogs: {
        parameters: {
            query?: {
                stage?: components["schemas"]["PhaseStage"];
                /** @description Only this attempt of `stage` (needs `stage`); every attempt without it */
                attempt?: number;
            };
            header?: never;
            path: {
                /** @description The pipeline's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["StageLogs"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 3004 pipeline not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 3004;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    proceedPipeline: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The pipeline's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["PipelineActionRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["ProceedPipelineResponse"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 3004 pipeline not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 3004;
                    };
                };
            };
            /** @description 2001 iteration's current phase cannot proceed; 2003 precondition not met; 3001 pipeline state does not allow this action */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 2001 | 2003 | 3001;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    resumePipeline: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The pipeline's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["PipelineActionRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["ResumePipelineResponse"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 3004 pipeline not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 3004;
                    };
                };
            };
            /** @description 3001 pipeline state does not allow this action; 3005 another release of this app is running */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 3001 | 3005;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    retryPipeline: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The pipeline's id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["PipelineActionRequest"];
            };
        };
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["RetryPipelineResponse"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5001 missing or invalid credentials */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5001;
                    };
                };
            };
            /** @description 3004 pipeline not found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 3004;
                    };
                };
            };
            /** @description 3001 pipeline state does not allow this action; 3002 maximum retries reached; 3005 another release of this app is running */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 3001 | 3002 | 3005;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 9005 unsupported content type */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9005;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
    receiveWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The provider, as in the app's webhookUrl */
                gitType: "gitlab" | "github" | "gitee" | "local";
                /** @description The app the webhook was installed for */
                appId: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Success: the envelope with code 0 and the data */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /**
                         * @description 0: success
                         * @enum {number}
                         */
                        code: 0;
                        /** @description `success`, or what happened (e.g. a release recorded) */
                        message: string;
                        data: components["schemas"]["WebhookAck"];
                    };
                };
            };
            /** @description 1001 invalid parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 1001;
                    };
                };
            };
            /** @description 5002 signature missing, invalid or stale */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5002;
                    };
                };
            };
            /** @description 9004 request body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9004;
                    };
                };
            };
            /** @description 5006 too many requests from this source on a public route; retry after the time given */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 5006;
                    };
                };
            };
            /** @description 9001 internal error */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9001;
                    };
                };
            };
            /** @description 9003 a service this call needs did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"] & {
                        /** @enum {unknown} */
                        code?: 9003;
                    };
                };
            };
        };
    };
}
