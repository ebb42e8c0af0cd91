/** The attack lab: attempts, report, matrix and their renderings (App A's /attack page, `onbehalf attack`). */
export { runAttackLab } from './lab.js'
export { ATTEMPTS } from './attempts/index.js'
export type { AttackReport, Attempt, AttemptResult, MatrixRow } from './types.js'
export { MATRIX_COLUMNS } from './matrix.js'
export { formatJson, formatMarkdown, formatText } from './format.js'
export { attackLabConfigFrom, type FindUserSub } from './config.js'
