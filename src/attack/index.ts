/** The attack lab: attempts, report, matrix and their renderings (App A's /attack page, `onbehalf attack`). */
export { runAttackLab } from './lab.js'
export { ATTEMPTS, TXN_ATTEMPTS } from './attempts/index.js'
export { runTxnAttackLab } from './txn_lab.js'
export type {
  AttackReport,
  Attempt,
  AttemptResult,
  MatrixRow,
  TxnAttempt,
  TxnLabConfig,
} from './types.js'
export { MATRIX_COLUMNS } from './matrix.js'
export { formatJson, formatMarkdown, formatText } from './format.js'
export { attackLabConfigFrom, type FindUserSub } from './config.js'
