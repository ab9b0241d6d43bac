// Entry point of the `lineage` command line tool.
console.log('lineage: not yet implemented');
