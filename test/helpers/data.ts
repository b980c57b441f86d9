// Where the shared test data lives: ../shared/data beside the repo, or $MOBILENET_TEST_DATA.
import * as path from 'path';

export const DATA_DIR = process.env.MOBILENET_TEST_DATA ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'data');
export const dataPath = (...parts: string[]): string => path.join(DATA_DIR, ...parts);
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
