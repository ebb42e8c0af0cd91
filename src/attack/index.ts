/** The attack lab: attempts, report, matrix and their renderings (App A's /attack page, `onbehalf attack`). */
export {
  ATTEMPTS,
  describeToken,
  forgeSelfSigned,
  runAttackLab,
  tamperPayload,
  type AttackLabConfig,
  type AttackReport,
  type AttackVerdict,
  type AttemptResult,
  type AttemptStep,
  type BlastRadius,
} from './lab.js'
export { buildMatrix, MATRIX_COLUMNS, type MatrixRow } from './matrix.js'
export { formatJson, formatMarkdown, formatText } from './format.js'
export { LoginError, loginWithPassword } from './login.js'
export { attackLabConfigFrom, type AttackLabOverrides } from './config.js'
