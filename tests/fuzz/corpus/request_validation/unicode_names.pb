
contosoE
sean.obrien@fabrikam.ieSeán	Ó Briain"Seán Ó Briain 🍀*IE
VertriebFáilte!	Welcome.