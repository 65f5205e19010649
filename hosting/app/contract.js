// @ts-check
// GENERATED from openapi.yaml by `python -m local_stack.console_contract`; do not edit.
// The API's allowed values (frozen arrays, each with its union type) and the shapes of
// its JSON answers (typedefs; GetResponses, PostResponses and PutResponses by path).

// Windows a figure page asks for.
/** @typedef {"1h" | "24h" | "7d" | "30d"} WindowName */
/** @type {ReadonlyArray<WindowName>} */
export const WINDOWS = Object.freeze(["1h", "24h", "7d", "30d"]);
/** @type {WindowName} */
export const WINDOWS_DEFAULT = "24h";

// Trend buckets.
/** @typedef {"minute" | "hour" | "day"} Granularity */
/** @type {ReadonlyArray<Granularity>} */
export const GRANULARITIES = Object.freeze(["minute", "hour", "day"]);
/** @type {Granularity} */
export const GRANULARITIES_DEFAULT = "hour";

// Figures a trend forecasts.
/** @typedef {"total" | "completed" | "failed" | "successRate" | "costUsd" | "avgGenerationSeconds" | "p95GenerationSeconds" | "avgQualityScore" | "avgUserRating" | "revenueUsd" | "upgrades" | "conversionRate"} TrendMetric */
/** @type {ReadonlyArray<TrendMetric>} */
export const TREND_METRICS = Object.freeze(["total", "completed", "failed", "successRate", "costUsd", "avgGenerationSeconds", "p95GenerationSeconds", "avgQualityScore", "avgUserRating", "revenueUsd", "upgrades", "conversionRate"]);
/** @type {TrendMetric} */
export const TREND_METRICS_DEFAULT = "total";

// Alert filters.
/** @typedef {"all" | "open" | "pending" | "firing" | "acknowledged" | "suppressed" | "resolved"} AlertFilter */
/** @type {ReadonlyArray<AlertFilter>} */
export const ALERT_FILTERS = Object.freeze(["all", "open", "pending", "firing", "acknowledged", "suppressed", "resolved"]);
/** @type {AlertFilter} */
export const ALERT_FILTERS_DEFAULT = "all";

// Alert severities.
/** @typedef {"critical" | "warning" | "info"} Severity */
/** @type {ReadonlyArray<Severity>} */
export const SEVERITIES = Object.freeze(["critical", "warning", "info"]);

// Alert states.
/** @typedef {"pending" | "firing" | "acknowledged" | "suppressed" | "resolved"} AlertStatus */
/** @type {ReadonlyArray<AlertStatus>} */
export const ALERT_STATUSES = Object.freeze(["pending", "firing", "acknowledged", "suppressed", "resolved"]);

// Windows a backtest replays.
/** @typedef {"1h" | "24h" | "7d" | "30d"} BacktestWindow */
/** @type {ReadonlyArray<BacktestWindow>} */
export const BACKTEST_WINDOWS = Object.freeze(["1h", "24h", "7d", "30d"]);
/** @type {BacktestWindow} */
export const BACKTEST_WINDOWS_DEFAULT = "7d";

// Export datasets.
/** @typedef {"generations" | "events" | "alerts" | "system"} ExportDataset */
/** @type {ReadonlyArray<ExportDataset>} */
export const EXPORT_DATASETS = Object.freeze(["generations", "events", "alerts", "system"]);

// Export file formats.
/** @typedef {"csv" | "ndjson" | "json" | "xlsx" | "pdf"} ExportFormat */
/** @type {ReadonlyArray<ExportFormat>} */
export const EXPORT_FORMATS = Object.freeze(["csv", "ndjson", "json", "xlsx", "pdf"]);
/** @type {ExportFormat} */
export const EXPORT_FORMATS_DEFAULT = "csv";

// Digest periods.
/** @typedef {"daily" | "weekly"} DigestPeriod */
/** @type {ReadonlyArray<DigestPeriod>} */
export const DIGEST_PERIODS = Object.freeze(["daily", "weekly"]);
/** @type {DigestPeriod} */
export const DIGEST_PERIODS_DEFAULT = "weekly";

// Statuses a generation list filters by.
/** @typedef {"queued" | "processing" | "completed" | "failed" | "cancelled"} GenerationStatus */
/** @type {ReadonlyArray<GenerationStatus>} */
export const GENERATION_STATUSES = Object.freeze(["queued", "processing", "completed", "failed", "cancelled"]);

// Alert rule kinds.
/** @typedef {"threshold" | "anomaly" | "baseline" | "burn_rate"} RuleKind */
/** @type {ReadonlyArray<RuleKind>} */
export const RULE_KINDS = Object.freeze(["threshold", "anomaly", "baseline", "burn_rate"]);
/** @type {RuleKind} */
export const RULE_KINDS_DEFAULT = "threshold";

// Comparators.
/** @typedef {"gt" | "lt"} Comparator */
/** @type {ReadonlyArray<Comparator>} */
export const RULE_COMPARATORS = Object.freeze(["gt", "lt"]);

// Rule windows.
/** @typedef {"5m" | "1h" | "6h" | "24h"} RuleWindow */
/** @type {ReadonlyArray<RuleWindow>} */
export const RULE_WINDOWS = Object.freeze(["5m", "1h", "6h", "24h"]);
/** @type {ReadonlyArray<RuleWindow>} */
export const RULE_WINDOWS_STORED = Object.freeze(["5m", "1h", "24h"]);
/** @type {ReadonlyArray<RuleWindow>} */
export const RULE_WINDOWS_BURN_RATE = Object.freeze(["1h", "6h"]);

// A burn-rate rule's short windows.
/** @typedef {"5m" | "30m"} RuleShortWindow */
/** @type {ReadonlyArray<RuleShortWindow>} */
export const RULE_SHORT_WINDOWS = Object.freeze(["5m", "30m"]);

// Rule scopes.
/** @typedef {"overall" | "provider" | "tier"} RuleScope */
/** @type {ReadonlyArray<RuleScope>} */
export const RULE_SCOPES = Object.freeze(["overall", "provider", "tier"]);

// Rule metrics.
/** @typedef {"abandonedNotifications" | "avgGenerationSeconds" | "avgQualityScore" | "avgQueueSeconds" | "avgUserRating" | "budgetForecastShare" | "conversionRate" | "costPerOutputSecondUsd" | "deniedRequests" | "errorBudgetBurn" | "exportFailed" | "failureRate" | "fallbackRate" | "functionErrorRate" | "functionErrors" | "functionP95Ms" | "minutesSinceLastTick" | "oldestQueuedSeconds" | "p95GenerationSeconds" | "pipelineRepairs" | "providerUtilization" | "quarantinedEntries" | "queueBacklog" | "queueWaitP95Seconds" | "queuedJobs" | "recoveryRate" | "rejectedShare" | "retryRate" | "revenueUsd" | "stuckJobs" | "successRate" | "throughputPerHour" | "total"} RuleMetric */
/** @type {ReadonlyArray<RuleMetric>} */
export const RULE_METRICS = Object.freeze(["abandonedNotifications", "avgGenerationSeconds", "avgQualityScore", "avgQueueSeconds", "avgUserRating", "budgetForecastShare", "conversionRate", "costPerOutputSecondUsd", "deniedRequests", "errorBudgetBurn", "exportFailed", "failureRate", "fallbackRate", "functionErrorRate", "functionErrors", "functionP95Ms", "minutesSinceLastTick", "oldestQueuedSeconds", "p95GenerationSeconds", "pipelineRepairs", "providerUtilization", "quarantinedEntries", "queueBacklog", "queueWaitP95Seconds", "queuedJobs", "recoveryRate", "rejectedShare", "retryRate", "revenueUsd", "stuckJobs", "successRate", "throughputPerHour", "total"]);

// No-data choices.
/** @typedef {"keep" | "ok" | "alerting"} RuleNoData */
/** @type {ReadonlyArray<RuleNoData>} */
export const RULE_NO_DATA = Object.freeze(["keep", "ok", "alerting"]);

// Directions.
/** @typedef {"above" | "below" | "both"} RuleDirection */
/** @type {ReadonlyArray<RuleDirection>} */
export const RULE_DIRECTIONS = Object.freeze(["above", "below", "both"]);

// Channels.
/** @typedef {"email" | "slack" | "sms" | "webhook"} Channel */
/** @type {ReadonlyArray<Channel>} */
export const CHANNELS = Object.freeze(["email", "slack", "sms", "webhook"]);

// Control states.
/** @typedef {"closed" | "open" | "half_open"} ControlState */
/** @type {ReadonlyArray<ControlState>} */
export const CONTROL_STATES = Object.freeze(["closed", "open", "half_open"]);

// Error budget states.
/** @typedef {"no_data" | "ok" | "at_risk" | "exhausted"} BudgetStatus */
/** @type {ReadonlyArray<BudgetStatus>} */
export const BUDGET_STATUSES = Object.freeze(["no_data", "ok", "at_risk", "exhausted"]);

// Notification delivery states.
/** @typedef {"pending" | "sending" | "retrying" | "sent" | "abandoned"} DeliveryStatus */
/** @type {ReadonlyArray<DeliveryStatus>} */
export const DELIVERY_STATUSES = Object.freeze(["pending", "sending", "retrying", "sent", "abandoned"]);

// Error codes.
/** @typedef {"invalid-argument" | "unauthenticated" | "permission-denied" | "not-found" | "method-not-allowed" | "failed-precondition" | "resource-exhausted" | "unavailable" | "internal"} ErrorCode */
/** @type {ReadonlyArray<ErrorCode>} */
export const ERROR_CODES = Object.freeze(["invalid-argument", "unauthenticated", "permission-denied", "not-found", "method-not-allowed", "failed-precondition", "resource-exhausted", "unavailable", "internal"]);

// Figures a dashboard panel shows.
/** @typedef {"generations.total" | "generations.failed" | "successRate" | "generationTimeSeconds.avg" | "generationTimeSeconds.p95" | "quality.avgScore" | "satisfaction.avgRating" | "costUsd" | "business.revenueUsd" | "business.upgrades" | "business.conversionRate" | "premiumAdoption" | "throughputPerHour" | "costPerOutputSecondUsd" | "queue.queued" | "queue.waitP95Seconds"} FigureName */
/** @type {ReadonlyArray<FigureName>} */
export const PANEL_FIGURES = Object.freeze(["generations.total", "generations.failed", "successRate", "generationTimeSeconds.avg", "generationTimeSeconds.p95", "quality.avgScore", "satisfaction.avgRating", "costUsd", "business.revenueUsd", "business.upgrades", "business.conversionRate", "premiumAdoption", "throughputPerHour", "costPerOutputSecondUsd", "queue.queued", "queue.waitP95Seconds"]);

// Panel charts.
/** @typedef {"tile" | "line" | "bar" | "table"} ChartKind */
/** @type {ReadonlyArray<ChartKind>} */
export const PANEL_CHARTS = Object.freeze(["tile", "line", "bar", "table"]);
/** @type {ChartKind} */
export const PANEL_CHARTS_DEFAULT = "tile";

/**
 * @typedef {"generations.total" | "generations.failed" | "successRate" | "generationTimeSeconds.avg" | "generationTimeSeconds.p95" | "quality.avgScore" | "satisfaction.avgRating" | "costUsd" | "business.revenueUsd" | "business.upgrades" | "business.conversionRate" | "premiumAdoption" | "throughputPerHour" | "costPerOutputSecondUsd" | "queue.queued" | "queue.waitP95Seconds"} PanelFigure
 */

/**
 * @typedef {"tile" | "line" | "bar" | "table"} PanelChart
 */

/**
 * @typedef {"1h" | "24h" | "7d" | "30d"} PanelWindow
 */

/**
 * @typedef {string} PanelScope
 */

/**
 * @typedef {{
 *   figure: PanelFigure;
 *   scope?: PanelScope;
 *   window?: PanelWindow;
 *   chart?: PanelChart;
 * }} DashboardPanel
 */

/**
 * @typedef {{
 *   figure: PanelFigure;
 *   scope: PanelScope;
 *   window: PanelWindow;
 *   chart: PanelChart;
 * }} StoredPanel
 */

/**
 * @typedef {{
 *   dashboardId?: string;
 *   title: string;
 *   shared?: boolean;
 *   panels?: Array<DashboardPanel>;
 * }} DashboardBody
 */

/**
 * @typedef {{
 *   dashboardId: string;
 *   title: string;
 *   owner: string;
 *   shared: boolean;
 *   panels: Array<StoredPanel>;
 *   createdAt: string;
 *   updatedAt: string;
 *   editable: boolean;
 * }} Dashboard
 */

/**
 * @typedef {{
 *   id: string;
 *   at: string;
 *   actor: string;
 *   role: string | null;
 *   action: string;
 *   target: string;
 *   outcome: "ok" | "failed";
 *   details: { [key: string]: unknown };
 * }} AuditEntry
 */

/**
 * @typedef {{
 *   error: {
 *     code: "invalid-argument" | "unauthenticated" | "permission-denied" | "not-found" | "method-not-allowed" | "failed-precondition" | "resource-exhausted" | "unavailable" | "internal";
 *     message: string;
 *   };
 * }} ErrorBody
 */

/**
 * @typedef {{
 *   status: "ok" | "degraded";
 *   reasons?: Array<string>;
 *   lastTick?: string | null;
 *   pipelineLagSeconds?: number;
 *   rejectedLastHour?: number;
 *   changesLastHour?: number;
 *   outbox?: {
 *     backlog?: number;
 *     abandoned24h?: number;
 *   };
 *   queue?: {
 *     inProgress?: number;
 *     stuck?: number;
 *   };
 *   foldQuarantine?: {
 *     held?: number;
 *     last24h?: number;
 *   };
 *   deniedLastHour?: number;
 *   checks?: Array<{
 *     check: "tick" | "rollups" | "rejections" | "notifications" | "quarantine" | "export";
 *     ok: boolean;
 *     reason: string | null;
 *   }>;
 *   lastExport?: ({
 *     day?: string;
 *     status?: string;
 *     finishedAt?: string | null;
 *     rows?: { [key: string]: number };
 *     error?: string | null;
 *   } | null);
 *   countedAsOther24h?: CountedAsOther;
 * }} Health
 */

/**
 * @typedef {{
 *   provider: number;
 *   errorCode: number;
 *   feature: number;
 *   eventType: number;
 * }} CountedAsOther
 */

/**
 * @typedef {{
 *   userId: string;
 *   firestore: { [key: string]: { [key: string]: number } };
 *   bigquery: ({ [key: string]: number } | null);
 *   aggregatesKept: boolean;
 * }} ErasureReport
 */

/**
 * @typedef {"firestore" | "bigquery" | "bigquery+firestore"} Source
 */

/**
 * @typedef {{
 *   jobId: string;
 *   status: "queued" | "running" | "done" | "failed";
 *   statusUrl: string;
 *   dataset: "generations" | "events" | "alerts" | "system";
 *   format: "csv" | "ndjson" | "json" | "xlsx" | "pdf";
 *   window: TimeWindow;
 *   provider: string | null;
 *   rows: number;
 *   bytes: number | null;
 *   error: string | null;
 *   fileName: string;
 *   createdAt: string;
 *   startedAt: string | null;
 *   finishedAt: string | null;
 *   expiresAt: string;
 *   downloadUrl?: string;
 * }} ExportJob
 */

/**
 * @typedef {{
 *   from: string;
 *   to: string;
 * }} TimeWindow
 */

/**
 * @typedef {{
 *   avg: number | null;
 *   p50: number | null;
 *   p95: number | null;
 *   p99: number | null;
 * }} Timing
 */

/**
 * @typedef {{
 *   window: TimeWindow;
 *   source: Source;
 *   provider?: string | null;
 *   generations: {
 *     total: number;
 *     completed: number;
 *     failed: number;
 *     cancelled: number;
 *     inProgress: number;
 *     successRate: number | null;
 *   };
 *   generationTimeSeconds: Timing;
 *   quality: {
 *     avgScore: number | null;
 *     scored: number;
 *   };
 *   satisfaction: {
 *     avgRating: number | null;
 *     rated: number;
 *   };
 *   costUsd: number;
 *   business: {
 *     revenueUsd: number;
 *     upgrades?: number;
 *     conversionRate: number | null;
 *   };
 *   alerts: {
 *     active: number;
 *     critical: number;
 *   };
 * }} Summary
 */

/**
 * @typedef {PerformanceFigures & {
 *   window: TimeWindow;
 *   source: Source;
 *   queue: {
 *     asOf: string;
 *     inProgress: number;
 *     stuck: number;
 *     stuckAfterMinutes: number;
 *     queued?: number;
 *     processing?: number;
 *     oldestQueuedSeconds?: number | null;
 *     waitP50Seconds?: number | null;
 *     waitP95Seconds?: number | null;
 *     waitSamples?: number;
 *     arrivals?: number;
 *     departures?: number;
 *     netGrowthPerMinute?: number | null;
 *   };
 * }} Performance
 */

/**
 * @typedef {{
 *   queued: number;
 *   processing: number;
 *   oldestQueuedSeconds: number | null;
 *   waitP50Seconds: number | null;
 *   waitP95Seconds: number | null;
 *   waitSamples: number;
 *   arrivals: number;
 *   departures: number;
 *   netGrowthPerMinute: number | null;
 * }} QueueFigures
 */

/**
 * @typedef {{
 *   asOf: string;
 *   window: TimeWindow;
 *   queue: QueueFigures;
 *   providers: Array<QueueFigures & {
 *     provider: string;
 *   }>;
 *   functions: Array<FunctionRuntime>;
 *   runtime: RuntimeSource;
 * }} System
 */

/**
 * @typedef {{
 *   function: string;
 *   executions: number;
 *   errors: number;
 *   errorRate: number | null;
 *   p95ExecutionMs: number | null;
 *   activeInstances: number | null;
 * }} FunctionRuntime
 */

/**
 * @typedef {{
 *   source: "cloud_monitoring" | "local" | null;
 *   error: string | null;
 *   firestoreReads: number | null;
 *   firestoreWrites: number | null;
 *   firestoreReadsPerMinute: number | null;
 *   firestoreWritesPerMinute: number | null;
 * }} RuntimeSource
 */

/**
 * @typedef {{
 *   maxConcurrent?: number | null;
 *   maxPerMinute?: number | null;
 *   monthlyBudgetUsd?: number | null;
 * }} ProviderCapacity
 */

/**
 * @typedef {{
 *   asOf: string;
 *   window: TimeWindow;
 *   monthStart: string;
 *   quotaErrorCodes: Array<string>;
 *   providers: Array<{
 *     provider: string;
 *     inFlight: number;
 *     queued: number;
 *     maxConcurrent: number | null;
 *     utilization: number | null;
 *     starts: number;
 *     startsPerMinute: number;
 *     peakStartsPerMinute: number;
 *     maxPerMinute: number | null;
 *     rateUtilization: number | null;
 *     failed: number;
 *     quotaErrors: number;
 *     quotaErrorShare: number | null;
 *     monthToDateUsd: number;
 *     forecastMonthUsd: number;
 *     monthlyBudgetUsd: number | null;
 *     budgetForecastShare: number | null;
 *     forecast: DemandForecast;
 *   }>;
 * }} Capacity
 */

/**
 * @typedef {{
 *   model: "trend+hour-of-week" | "hour-of-day" | "none";
 *   historyDays: number;
 *   historyStart: string | null;
 *   trendPerDay: number | null;
 *   meanBusySeconds: number | null;
 *   capacityPerHour: number | null;
 *   limitedBy: "maxConcurrent" | "maxPerMinute" | null;
 *   days: Array<{
 *     date: string;
 *     peakPerHour: number;
 *     peakAt: string;
 *     utilization: number | null;
 *   }>;
 *   observed: Array<{
 *     date: string;
 *     peakPerHour: number;
 *   }>;
 *   headroom: number | null;
 *   crosses80At: string | null;
 * }} DemandForecast
 */

/**
 * @typedef {{
 *   provider?: string | null;
 *   generations: {
 *     total: number;
 *     inProgress: number;
 *   } & { [key: string]: number };
 *   successRate: number | null;
 *   generationTimeSeconds: Timing;
 *   queueSeconds: {
 *     avg: number | null;
 *     samples: number;
 *   };
 *   renderSeconds: {
 *     avg: number | null;
 *     samples: number;
 *   };
 *   errors: { [key: string]: number };
 *   retryRate: number | null;
 *   fallbackRate: number | null;
 *   avgAttempts?: number | null;
 *   costUsd: number;
 *   failedCostUsd?: number;
 *   retryWasteUsd?: number;
 *   costPerOutputSecondUsd: number | null;
 *   throughputPerHour: number | null;
 * }} PerformanceFigures
 */

/**
 * @typedef {{
 *   alertId: string;
 *   ruleId: string;
 *   scope: string;
 *   status: "pending" | "firing" | "acknowledged" | "suppressed" | "resolved";
 *   open: boolean;
 *   severity: "critical" | "warning" | "info";
 *   metric: string;
 *   comparator: string;
 *   threshold: number;
 *   window: string;
 *   value: number | null;
 *   samples: number;
 *   openedAt: string;
 *   firedAt?: string | null;
 *   level?: number;
 *   lastNotifiedAt?: string | null;
 *   acknowledgedAt?: string | null;
 *   acknowledgedBy?: string | null;
 *   suppressedUntil?: string | null;
 *   resumesAs?: string | null;
 *   resolvedAt?: string | null;
 *   resolvedBy?: string | null;
 *   resolution?: string | null;
 *   notificationSeq?: number;
 *   deliveries?: { [key: string]: unknown };
 *   history: Array<{
 *     at: string;
 *     action: string;
 *     by: string;
 *     detail?: string;
 *   }>;
 * }} AlertInstance
 */

/**
 * @typedef {{
 *   ruleId?: string;
 *   kind?: "threshold" | "anomaly" | "baseline" | "burn_rate";
 *   metric: "abandonedNotifications" | "avgGenerationSeconds" | "avgQualityScore" | "avgQueueSeconds" | "avgUserRating" | "budgetForecastShare" | "conversionRate" | "costPerOutputSecondUsd" | "deniedRequests" | "errorBudgetBurn" | "exportFailed" | "failureRate" | "fallbackRate" | "functionErrorRate" | "functionErrors" | "functionP95Ms" | "minutesSinceLastTick" | "oldestQueuedSeconds" | "p95GenerationSeconds" | "pipelineRepairs" | "providerUtilization" | "quarantinedEntries" | "queueBacklog" | "queueWaitP95Seconds" | "queuedJobs" | "recoveryRate" | "rejectedShare" | "retryRate" | "revenueUsd" | "stuckJobs" | "successRate" | "throughputPerHour" | "total";
 *   comparator?: "gt" | "lt";
 *   threshold: number;
 *   window?: "5m" | "1h" | "6h" | "24h";
 *   scopes?: Array<"overall" | "provider" | "tier">;
 *   slo?: string | null;
 *   shortWindow?: "5m" | "30m" | null;
 *   minSamples?: number;
 *   pendingEvaluations?: number;
 *   resolveEvaluations?: number;
 *   hysteresis?: number;
 *   confidence?: number;
 *   severity?: "critical" | "warning" | "info";
 *   channels?: Array<"email" | "slack" | "sms" | "webhook">;
 *   escalation?: Array<{
 *     afterMinutes: number;
 *     channels: Array<string>;
 *     recipients?: ({
 *       email?: Array<string>;
 *       sms?: Array<string>;
 *       slack?: Array<string>;
 *     } | null);
 *   }>;
 *   repeatIntervalMinutes?: number;
 *   noData?: "keep" | "ok" | "alerting";
 *   enabled?: boolean;
 *   description?: string;
 *   baselineDays?: number;
 *   minHistoryDays?: number;
 *   zThreshold?: number;
 *   direction?: "above" | "below" | "both";
 *   actions?: Array<{
 *     type: "pause_provider";
 *     cooldownMinutes?: number;
 *     probeShare?: number;
 *   }>;
 * }} AlertRule
 */

/**
 * @typedef {{
 *   sloId?: string;
 *   sli: "success" | "latency";
 *   target: number;
 *   thresholdSeconds?: number | null;
 *   windowDays?: number;
 *   scopes?: Array<"overall" | "provider" | "tier">;
 *   enabled?: boolean;
 *   description?: string;
 * }} Objective
 */

/**
 * @typedef {Objective & {
 *   window: {
 *     start?: string;
 *     end?: string;
 *   };
 *   uncertainSeconds?: Array<number>;
 *   budgets: Array<{
 *     scope: string;
 *     provider?: string | null;
 *     tier?: string | null;
 *     valid: number;
 *     bad: number;
 *     sli: number | null;
 *     allowedBad: number;
 *     budgetRemaining: number | null;
 *     status: "no_data" | "ok" | "at_risk" | "exhausted";
 *     burnRates: {
 *       "5m"?: number | null;
 *       "30m"?: number | null;
 *       "1h"?: number | null;
 *       "6h"?: number | null;
 *     };
 *     hoursToExhaustion: number | null;
 *   }>;
 * }} ObjectiveStatus
 */

/**
 * @typedef {{
 *   provider: string;
 *   state: "closed" | "open" | "half_open";
 *   weight: number;
 *   reason: string;
 *   alertId: string | null;
 *   ruleId?: string | null;
 *   since: string | null;
 *   until: string | null;
 *   by: string;
 *   manual?: boolean;
 *   heldAlerts?: Array<string>;
 *   blocked?: string | null;
 * }} ProviderControl
 */

/**
 * @typedef {{
 *   period: {
 *     kind: "daily" | "weekly";
 *     key: string;
 *     from: string;
 *     to: string;
 *   };
 *   previous: {
 *     kind: "daily" | "weekly";
 *     key: string;
 *     from: string;
 *     to: string;
 *   };
 *   headline: Array<{
 *     name: string;
 *     label: string;
 *     unit: "count" | "ratio" | "s" | "score" | "stars" | "usd";
 *     value: number | null;
 *     previous: number | null;
 *     change: number | null;
 *     better: "higher" | "lower";
 *     target: ({
 *       value?: number;
 *       direction?: "min" | "max";
 *     } | null);
 *     met: boolean | null;
 *   }>;
 *   regressions: Array<{
 *     provider: string;
 *     metric: string;
 *     value: number;
 *     previous: number;
 *     worseBy: number;
 *   }>;
 *   alerts: {
 *     fired: number;
 *     critical: number;
 *     byRule: { [key: string]: number };
 *     medianAckMinutes: number | null;
 *     medianResolveMinutes: number | null;
 *     unacknowledged: number;
 *     items: Array<{ [key: string]: unknown }>;
 *   };
 *   controls: Array<{
 *     at: string;
 *     provider: string;
 *     by: string;
 *     text: string;
 *   }>;
 *   recommendations: Array<{
 *     rank: number;
 *     kind: "shift_traffic" | "noisy_rule" | "cost_rise";
 *     title: string;
 *     text: string;
 *     evidence: { [key: string]: unknown };
 *     expected: { [key: string]: unknown };
 *   }>;
 *   series: Array<{
 *     start: string;
 *     total: number;
 *     successRate: number | null;
 *   }>;
 *   capacity?: ({
 *     crossing: Array<{
 *       provider: string;
 *       crosses80At: string;
 *       headroom: number;
 *       capacityPerHour: number;
 *       peakPerHour: number;
 *       limitedBy: "maxConcurrent" | "maxPerMinute";
 *     }>;
 *     budgets: Array<{
 *       provider: string;
 *       monthToDateUsd: number;
 *       forecastMonthUsd: number;
 *       monthlyBudgetUsd: number;
 *       budgetForecastShare: number | null;
 *       over: boolean;
 *     }>;
 *   } | null);
 * }} Digest
 */

/**
 * @typedef {{
 *   ruleId: string;
 *   window: {
 *     from: string;
 *     to: string;
 *   };
 *   threshold: number;
 *   storedThreshold: number;
 *   source: "firestore" | "bigquery" | "bigquery+firestore";
 *   runs: number;
 *   firstRun?: string | null;
 *   lastRun?: string | null;
 *   evaluations: number;
 *   unmeasured: number;
 *   firings: number;
 *   firingsPerWeek: number;
 *   notifications: number;
 *   episodes: Array<BacktestEpisode>;
 *   suggestion?: {
 *     pagesPerWeek: number;
 *     threshold: number | null;
 *     firings: number | null;
 *     firingsPerWeek: number | null;
 *     missed: Array<BacktestEpisode>;
 *   };
 * }} Backtest
 */

/**
 * @typedef {{
 *   scope: string;
 *   from: string;
 *   to: string | null;
 *   value: number | null;
 * }} BacktestEpisode
 */

/**
 * @typedef {{
 *   window: TimeWindow;
 *   source: Source;
 *   provider: string | null;
 *   countedAsOther: CountedAsOther;
 *   overall: {
 *     avgScore: number | null;
 *     scored: number;
 *     avgRating: number | null;
 *     rated: number;
 *   };
 *   providers: Array<{
 *     provider: string;
 *     rank: number;
 *     rankScore: number;
 *     generations: number;
 *     completed: number;
 *     failed: number;
 *     successRate: number | null;
 *     successRateLowerBound: number;
 *     quality: {
 *       avgScore: number | null;
 *       scored: number;
 *       shrunkScore: number;
 *     };
 *     satisfaction: {
 *       avgRating: number | null;
 *       rated: number;
 *     };
 *     generationTimeP95Seconds: number | null;
 *     costPerOutputSecondUsd: number | null;
 *     errors: { [key: string]: number };
 *     fallbackRate: number | null;
 *     retryRate: number | null;
 *   }>;
 *   byTier: {
 *     free: {
 *     avgScore: number | null;
 *     scored: number;
 *     avgRating: number | null;
 *     rated: number;
 *   };
 *     premium: {
 *     avgScore: number | null;
 *     scored: number;
 *     avgRating: number | null;
 *     rated: number;
 *   };
 *   } & { [key: string]: {
 *     avgScore: number | null;
 *     scored: number;
 *     avgRating: number | null;
 *     rated: number;
 *   } };
 *   qualityVsSatisfaction: {
 *     pairs: number;
 *     correlation: number | null;
 *     byQualityBand: Array<{
 *       qualityFrom: number;
 *       qualityTo: number;
 *       avgRating: number | null;
 *       rated: number;
 *     }>;
 *   };
 *   ranking: {
 *     method: string;
 *   };
 * }} Quality
 */

/**
 * @typedef {{
 *   window: TimeWindow;
 *   source: Source;
 *   providers: Array<PerformanceFigures & {
 *     provider: string;
 *     quality: {
 *       avgScore: number | null;
 *       scored: number;
 *     };
 *     satisfaction: {
 *       avgRating: number | null;
 *       rated: number;
 *     };
 *   }>;
 * }} Providers
 */

/**
 * @typedef {{
 *   window: TimeWindow;
 *   source: Source;
 *   provider?: string | null;
 *   revenueUsd: number;
 *   upgrades: number;
 *   conversionRate: number | null;
 *   generations: {
 *     total: number;
 *     premium: number;
 *     free: number;
 *     premiumShare: number | null;
 *   };
 *   premiumFeatures: {
 *     generationsWithFeatures: number;
 *     adoptionRate: number | null;
 *     byFeature: { [key: string]: number };
 *   };
 *   featureUsedEvents: { [key: string]: number };
 *   engagement: {
 *     views: number;
 *     shares: number;
 *     downloads: number;
 *     perCompletedGeneration: { [key: string]: number | null };
 *   };
 *   sessions: number;
 *   events: { [key: string]: number };
 *   retention: {
 *     snapshotDay: string | null;
 *     days7: Retention;
 *     days30: Retention;
 *   };
 * }} Business
 */

/**
 * @typedef {{
 *   day: string;
 *   source: "snapshot" | "live" | "bigquery";
 *   asOf?: string | null;
 *   activeUsers: number;
 *   generations: number;
 *   generationsPerActiveUser: number | null;
 *   sessions: number;
 *   sessionsPerActiveUser: number | null;
 *   engagement: {
 *     views: unknown;
 *     shares: unknown;
 *     downloads: unknown;
 *     perActiveUser: unknown;
 *   };
 *   upgraders: number;
 *   segments: {
 *     free: {
 *     users: number;
 *     share: number | null;
 *   };
 *     premium: {
 *     users: number;
 *     share: number | null;
 *   };
 *     power: {
 *     users: number;
 *     share: number | null;
 *   };
 *   } & { [key: string]: {
 *     users: number;
 *     share: number | null;
 *   } };
 * }} UserDay
 */

/**
 * @typedef {({
 *   cohortDay: string;
 *   cohort: number;
 *   retained: number;
 *   rate: number | null;
 * } | null)} Retention
 */

/**
 * @typedef {{
 *   count: number;
 *   ended: number;
 *   unended: number;
 *   endsWithoutStart: number;
 *   users: number;
 *   perUser: number | null;
 *   durationSeconds: {
 *     median: number | null;
 *     p95: number | null;
 *     mean: number | null;
 *   };
 *   coveredFrom: string;
 * }} SessionFigures
 */

/**
 * @typedef {Array<Array<number>>} WeekdayHourGrid
 */

/**
 * @typedef {{
 *   timeZone: "UTC";
 *   weekdays: Array<string>;
 *   generations: WeekdayHourGrid;
 *   sessions: WeekdayHourGrid;
 * }} Heatmap
 */

/**
 * @typedef {({
 *   asOf: string;
 *   lookbackWeeks: number;
 *   rows: Array<{
 *     week: string;
 *     users: number;
 *     weeks: Array<{
 *       offset: number;
 *       active: number;
 *       share: number | null;
 *       partial: boolean;
 *     }>;
 *   }>;
 * } | null)} CohortTable
 */

/**
 * @typedef {{
 *   window: TimeWindow;
 *   source: Source;
 *   days: Array<UserDay>;
 *   totals: {
 *     activeUserDays: number;
 *     averageDailyActiveUsers: number | null;
 *     generations: number;
 *     sessions: number;
 *   };
 *   latestSnapshotDay: string | null;
 *   retention7: Retention;
 *   retention30: Retention;
 *   churnRisk: ({
 *     users: number;
 *     share: number | null;
 *     premium: number;
 *     activeIn30Days: number;
 *   } | null);
 *   sessionFigures: SessionFigures;
 *   heatmap: Heatmap;
 *   cohorts: CohortTable;
 * }} UserInsights
 */

/**
 * @typedef {{
 *   window: TimeWindow;
 *   order: string;
 *   generations: Array<GenerationRow>;
 *   next: string | null;
 * }} GenerationPage
 */

/**
 * @typedef {{
 *   generationId: string;
 *   userId: string | null;
 *   provider: string | null;
 *   model: string | null;
 *   status: "queued" | "processing" | "completed" | "failed" | "cancelled" | null;
 *   userTier: string | null;
 *   createdAt: string | null;
 *   startedAt: string | null;
 *   completedAt: string | null;
 *   generationSeconds: number | null;
 *   queueSeconds: number | null;
 *   renderSeconds: number | null;
 *   attempts: number | null;
 *   fallbackFrom: string | null;
 *   errorCode: string | null;
 *   errorRetryable: boolean | null;
 *   qualityScore: number | null;
 *   userRating: number | null;
 *   costUsd: number | null;
 *   outputSeconds: number | null;
 *   resolution: string | null;
 *   features: Array<string> | null;
 * }} GenerationRow
 */

/**
 * @typedef {{
 *   code: string;
 *   failed: number;
 *   retryable: number;
 *   permanent: number;
 *   unclassified: number;
 *   classifiedBy: "table" | "flag" | "mixed";
 * }} ErrorCodeCount
 */

/**
 * @typedef {{
 *   window: TimeWindow;
 *   provider: string | null;
 *   granularity: "minute" | "hour" | "day";
 *   source: "firestore";
 *   recovery: {
 *     attempted: number;
 *     recovered: number;
 *     unrecovered: number;
 *     rate: number | null;
 *   };
 *   errors: {
 *     failed: number;
 *     retryable: number;
 *     permanent: number;
 *     unclassified: number;
 *     retryableShare: number | null;
 *     topCodes: Array<string>;
 *     codes: Array<ErrorCodeCount>;
 *   };
 *   errorSeries: Array<{
 *     start: string;
 *     failed: number;
 *     retryable: number;
 *     permanent: number;
 *     unclassified: number;
 *     codes: { [key: string]: number };
 *   }>;
 *   fallbacks: Array<{
 *     from: string;
 *     to: string;
 *     completed: number;
 *     failed: number;
 *     total: number;
 *     recoveryRate: number;
 *   }>;
 *   errorClasses: { [key: string]: "retryable" | "permanent" };
 * }} Recovery
 */

/**
 * @typedef {{
 *   "/summary": Summary;
 *   "/performance": Performance;
 *   "/trends": {
 *     window: TimeWindow;
 *     granularity: string;
 *     metric: string;
 *     source: Source;
 *     forecastUnavailable?: string;
 *     forecast: ({
 *       method: "holt-linear";
 *       alpha: number;
 *       beta: number;
 *       sigma: number;
 *       points: Array<{
 *         start: string;
 *         value: number;
 *         lower: number;
 *         upper: number;
 *       }>;
 *     } | null);
 *     anomalies: Array<{
 *       start: string;
 *       value: number;
 *       expected: number;
 *     }>;
 *     series: Array<{
 *       revenueUsd: number;
 *       upgrades: number;
 *       freeGenerations: number;
 *       conversionRate: number | null;
 *       avgQualityScore: number | null;
 *       avgUserRating: number | null;
 *       start: string;
 *       complete: boolean;
 *       fitted?: boolean;
 *       total: number;
 *       completed: number;
 *       failed: number;
 *       successRate: number | null;
 *       generationTimeSeconds: Timing;
 *       costUsd: number;
 *     }>;
 *   };
 *   "/quality": Quality;
 *   "/providers": Providers;
 *   "/business": Business;
 *   "/user-insights": UserInsights;
 *   "/recovery": Recovery;
 *   "/health": Health;
 *   "/targets": {
 *     successRate: {
 *     value: number;
 *     direction: "min" | "max";
 *   };
 *     avgGenerationSeconds: {
 *     value: number;
 *     direction: "min" | "max";
 *   };
 *     qualityScore: {
 *     value: number;
 *     direction: "min" | "max";
 *   };
 *     satisfaction: {
 *     value: number;
 *     direction: "min" | "max";
 *   };
 *     premiumAdoption: {
 *     value: number;
 *     direction: "min" | "max";
 *   };
 *     retention: {
 *     value: number;
 *     direction: "min" | "max";
 *   };
 *   } & { [key: string]: {
 *     value: number;
 *     direction: "min" | "max";
 *   } };
 *   "/export-jobs/{jobId}": ExportJob;
 *   "/generations": GenerationPage;
 *   "/alerts": {
 *     window: TimeWindow;
 *     active: Array<AlertInstance>;
 *     counts: {
 *       bySeverity?: { [key: string]: number };
 *       byStatus?: { [key: string]: number };
 *     };
 *     history: Array<AlertInstance>;
 *     historyTotal: number;
 *     historyTruncated: boolean;
 *   };
 *   "/alerts/{alertId}": {
 *     alert: AlertInstance;
 *     rule: ({ [key: string]: unknown } | null);
 *     providerControl?: ProviderControl;
 *     deliveries: Array<{
 *       channel: "email" | "slack" | "sms" | "webhook";
 *       seq: number;
 *       event: string;
 *       status: "pending" | "sending" | "retrying" | "sent" | "abandoned";
 *       attempts: number;
 *       lastError?: string | null;
 *       createdAt?: string | null;
 *       sentAt?: string | null;
 *     }>;
 *     figure: {
 *       metric: string;
 *       scope: string;
 *       window: string;
 *       comparator: string;
 *       threshold: number;
 *       from: string;
 *       to: string;
 *       unavailable?: string | null;
 *       points: Array<{
 *         at: string;
 *         value: number | null;
 *       }>;
 *     };
 *   };
 *   "/alert-rules": {
 *     rules: Array<AlertRule>;
 *     problems: Array<string>;
 *     defaults: Array<string>;
 *   };
 *   "/alert-rules/{ruleId}": {
 *     rule: AlertRule;
 *   };
 *   "/alert-rules/{ruleId}/backtest": Backtest;
 *   "/provider-controls": {
 *     controls: Array<ProviderControl>;
 *   };
 *   "/slos": {
 *     at: string;
 *     objectives: Array<ObjectiveStatus>;
 *   };
 *   "/slos/{sloId}": {
 *     objective: Objective;
 *   };
 *   "/system": System;
 *   "/capacity": Capacity;
 *   "/digest": Digest;
 *   "/me/digests": {
 *     daily: boolean;
 *     weekly: boolean;
 *     monthly: boolean;
 *     quarterly: boolean;
 *     email: string | null;
 *   };
 *   "/audit-log": {
 *     entries: Array<AuditEntry>;
 *     next: string | null;
 *   };
 *   "/dashboards": {
 *     dashboards: Array<Dashboard>;
 *     limits: {
 *       maxPanels: 12;
 *       maxTitleLength: 80;
 *       maxPerOwner: 20;
 *       figures: Array<{
 *         figure: PanelFigure;
 *         source: "/summary" | "/business" | "/performance" | "/system";
 *         overTime: boolean;
 *       }>;
 *       charts: Array<PanelChart>;
 *     };
 *   };
 *   "/dashboards/{dashboardId}": {
 *     dashboard: Dashboard;
 *   };
 * }} GetResponses
 */

/**
 * @typedef {{
 *   "/alerts/{alertId}/acknowledge": {
 *     alert: AlertInstance;
 *   };
 *   "/alerts/{alertId}/resolve": {
 *     alert: AlertInstance;
 *   };
 *   "/alerts/{alertId}/suppress": {
 *     alert: AlertInstance;
 *   };
 *   "/alert-rules": {
 *     rule: AlertRule;
 *   };
 *   "/alert-rules/backtest": Backtest;
 *   "/provider-controls/{provider}/pause": {
 *     control: ProviderControl;
 *   };
 *   "/provider-controls/{provider}/release": {
 *     control: ProviderControl;
 *   };
 *   "/users/{userId}/erase": ErasureReport;
 * }} PostResponses
 */

/**
 * @typedef {{
 *   "/alert-rules/{ruleId}": {
 *     rule: AlertRule;
 *   };
 *   "/slos/{sloId}": {
 *     objective: Objective;
 *   };
 *   "/capacity/{provider}": {
 *     provider: string;
 *     maxConcurrent: number | null;
 *     maxPerMinute: number | null;
 *     monthlyBudgetUsd: number | null;
 *   };
 *   "/me/digests": {
 *     daily: boolean;
 *     weekly: boolean;
 *     monthly: boolean;
 *     quarterly: boolean;
 *     email: string | null;
 *   };
 *   "/dashboards/{dashboardId}": {
 *     dashboard: Dashboard;
 *   };
 * }} PutResponses
 */

