/** nimbo's version, shown by the API and CLI. */
export const VERSION = '0.1.0';
