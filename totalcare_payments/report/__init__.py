"""A scenario study's documents: the HTML report with its charts, and the Excel workbook."""
