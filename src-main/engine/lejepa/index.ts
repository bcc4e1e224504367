/** The LeJEPA objective: quadrature, slicing directions, SIGReg, prediction loss, total. */
export {
  quadrature,
  type Quadrature,
  type QuadratureGrid,
  type QuadratureOptions,
} from './quadrature.ts';
export { drawDirections } from './directions.ts';
export { sigreg, slicedEppsPulley, type SigregResult } from './sigreg.ts';
export { lejepaLoss, predictionLoss, type LejepaLoss } from './loss.ts';
