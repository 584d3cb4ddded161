/** The arithmetic of the denoiser's passes at inference (int8: nn/denoiser-int8.ts). Apart so that option tables do not load the network. */
export type Precision = 'float32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['float32', 'int8'];
