// Diagnostics: the self-test catalogue, fault codes, and the installation report with its
// acceptance rule. No I/O and no clock.
export type {
  LimitVerdict,
  MeasurementLimits,
  MeasurementUnit,
  SelfTestDefinition,
  SelfTestId,
  SelfTestOutcome,
} from './self-tests.js';
export {
  DEFAULT_SELF_TEST_IDS,
  INSTALLATION_SELF_TEST_IDS,
  SELF_TESTS,
  SELF_TEST_IDS,
  SELF_TEST_OUTCOMES,
  checkMeasurement,
  isSelfTestId,
  selfTestDefinition,
  selfTestOutcomeFromProto,
  selfTestOutcomeToProto,
  selfTestsNeedAuthorization,
} from './self-tests.js';
export type {
  FaultCodeDefinition,
  FaultSeverity,
  FaultTextLanguage,
  LocalizedText,
} from './fault-codes.js';
export {
  FAULT_CODES,
  FAULT_CODE_PATTERN,
  FAULT_SEVERITIES,
  FAULT_TEXT_LANGUAGES,
  describeFaultCode,
  faultCodeDefinition,
} from './fault-codes.js';
export type {
  InstallationReport,
  InstallationReportParse,
  ReportInputError,
  SelfTestReportEntry,
} from './installation-report.js';
export {
  INSTALLATION_REPORT_VERSION,
  formatReportInputError,
  parseInstallationReport,
} from './installation-report.js';
export type {
  ReportAcceptance,
  ReportExpectations,
  ReportRejection,
  ReportRejectionReason,
} from './acceptance.js';
export { acceptInstallationReport } from './acceptance.js';
export { buildDiagnosticsVectors, sampleInstallationReportJson } from './vectors.js';
